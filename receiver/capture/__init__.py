"""What a capture means: its record, decoding, lenient JSON, events, ids, times, vocabulary. Pure functions."""
