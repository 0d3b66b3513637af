"""Tests of jobs.routing: the sinks, and the delivery jobs run by in-process workers."""
