"""The ground floor: settings, the data dir's layout and files, ids, Redis, every key and queue name, logging."""
