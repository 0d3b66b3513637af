"""Tests of check, failed, send, prune and compress."""
