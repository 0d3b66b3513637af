"""Run the receiver: up, serve, worker, forward, and the supervisor and Redis they start."""
