"""The test suite: fixtures (conftest.py), helpers (support/), in-process tests (unit/), real processes (system/)."""
