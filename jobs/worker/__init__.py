"""The RQ worker we run: building it, its lanes, Redis outages, the pop record, liveness and the put-back."""
