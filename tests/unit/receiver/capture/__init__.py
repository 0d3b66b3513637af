"""Tests of receiver.capture: decoding, normalising and analysing a capture."""
