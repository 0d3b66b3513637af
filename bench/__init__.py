"""Benchmarks of the receiver: ack path, workers, replay. Run them all with ``make bench``."""
