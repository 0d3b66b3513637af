"""Tests of jobs.worker in one process: the lanes' queues, and jobs popped when Redis failed."""
