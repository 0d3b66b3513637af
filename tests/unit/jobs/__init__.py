"""Tests of the worker side (jobs/): the capture job and its fuzzing; the worker and routing below."""
