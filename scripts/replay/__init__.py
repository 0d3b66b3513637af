"""Send captures again: the replay command (its library is receiver/replay/)."""
