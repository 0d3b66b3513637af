"""Processes we start and keep alive: the supervisor, a private redis-server."""
