"""Tests of receiver.inspector: the web inspector's app through Flask's test client."""
