"""Helpers the tests share and never collect: data factories, real processes and servers, hostile inputs."""
