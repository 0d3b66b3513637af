"""Operate a deployment: check, failed jobs, compress and prune, send the samples."""
