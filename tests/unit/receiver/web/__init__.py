"""Tests of receiver.web: the webhook's HTTP contract through Flask's test client, and fuzzing it."""
