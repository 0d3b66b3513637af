"""Send captures again: the replay command, its run, targets, thread pool, progress and resume state."""
