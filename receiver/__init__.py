"""The Smartech webhook receiver's library: every room but the worker's jobs and the command line.

Rooms, bottom up (``docs/architecture.md``): ``core`` (settings, the data
dir's layout, ids, Redis keys), ``capture`` (what a capture means), ``ledger``
and ``routes`` (what was written and routed), ``forwarder``, ``store`` (the
read side), ``ops``, ``metrics``, ``procs``, ``replay``, and the two web
apps, ``web`` (the webhook) and ``inspector``. Importing this package loads
nothing.
"""
