"""Run the receiver: up, serve, worker, forward."""
