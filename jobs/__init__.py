"""What the workers run: the capture job (process.py), the RQ worker itself (worker/) and routing (routing/)."""
