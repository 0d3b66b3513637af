"""Routing: send events to sinks (SQL, HTTP, Python) by rules in a TOML file, at once or after a delayed check."""
