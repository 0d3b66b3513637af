"""Tests that start real processes: gunicorn, RQ workers, the CLI, nginx, Sentinel, a browser, fresh venvs, chaos."""
