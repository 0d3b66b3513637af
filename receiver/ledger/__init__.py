"""The ledger: which events and rejects the data files hold, written once per host; repeats; the id upgrade."""
