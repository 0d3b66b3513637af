"""Tests of receiver.store: reading, paging and finding captures, the spill cache, time expressions."""
