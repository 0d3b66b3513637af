"""Prometheus metrics of the receiver, served as ``GET /metrics`` by the web inspector.

- ``names``: every metric's name, help and labels, in one place.
- ``multiproc``: the directory where gunicorn's web workers keep their counters (prometheus_client's
  multiprocess mode), cleared when ``serve`` starts, tidied when a worker exits.
- ``counters``: the acks by status code and the ack latency histogram, counted on the hot path.
- ``tally``: what the RQ workers count (events, rejects, sink deliveries), kept in Redis hashes.
- ``labels``: bounded label values (channel, activity, reject reason) from unbounded input.
- ``collector``: the gauges computed at scrape time from Redis and the disk.
- ``exposition``: the text Prometheus reads.

Failure policy: metrics failures are logged and never raised. Metrics must never turn a 200 into
anything else or fail a job; a scrape that cannot read Redis or the disk reports what it could.
"""
