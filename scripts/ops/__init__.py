"""Operate a deployment: check, audit, failed jobs, routes, compress and prune, send the samples."""
