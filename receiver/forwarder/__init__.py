"""Hand the captures on disk to RQ: the cursor, the backlog, torn lines, the rewind, enqueue-if-absent."""
