"""The RQ worker we run: building it, its lanes, Redis outages, the pop record and the put-back."""
