"""Processes we start and keep alive: their command lines, the supervisor, a private redis-server, up's stack."""
