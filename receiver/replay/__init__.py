"""Send captures again, or the vendor's samples: selections, targets, runs, resume state."""
