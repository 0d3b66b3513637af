"""A seeded, bounded chaos run against a real stack: ``python -m tests.system.chaos`` (``make chaos``)."""
