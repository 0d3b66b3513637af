"""A seeded, bounded chaos run against a real stack: ``python -m tests.chaos`` (``make chaos``)."""
