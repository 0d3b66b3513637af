"""Tests of receiver.metrics: counters, the collector, the tally, and the alerting rules with promtool."""
