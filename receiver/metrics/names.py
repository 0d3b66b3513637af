"""Name every metric, with its help text and labels: the dashboard, the rules and the docs use these names."""

PREFIX = "smartech_dumper"

# Counted by the web workers (receiver/metrics/counters.py), summed across them by prometheus_client.
ACKS = f"{PREFIX}_acks"  # a Counter: exposed as smartech_dumper_acks_total
ACKS_HELP = "Answers to POSTs and probes on the webhook paths, by HTTP status code."
ACK_SECONDS = f"{PREFIX}_ack_seconds"
ACK_SECONDS_HELP = "Time from the start of a webhook request to its answer (the capture on disk), in seconds."
# From half a millisecond (no fsync) to the body timeout: where a slow disk or a slow client shows.
ACK_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

# Counted by the RQ workers into Redis (receiver/metrics/tally.py), read at scrape time.
EVENTS = f"{PREFIX}_events_total"
EVENTS_HELP = "Events written to the events files (duplicates not counted), by channel and activity."
REJECTS = f"{PREFIX}_rejects_total"
REJECTS_HELP = "Captures written to the rejects file (duplicates not counted), by kind of reason."
SINK_DELIVERIES = f"{PREFIX}_sink_deliveries_total"
SINK_DELIVERIES_HELP = (
    "Delivery jobs run by sink and outcome: delivered, retry (failed, RQ retries it), failed (for good)."
)
SINK_EVENTS = f"{PREFIX}_sink_events_delivered_total"
SINK_EVENTS_HELP = "Events each sink took (routing's own count in Redis)."

# Computed at scrape time (receiver/metrics/collector.py).
REDIS_UP = f"{PREFIX}_redis_up"
REDIS_UP_HELP = "1 if Redis answered this scrape, else 0."
QUEUE_JOBS = f"{PREFIX}_queue_jobs"
QUEUE_JOBS_HELP = "Jobs waiting in each RQ queue (the captures' queue and routing's -high and -low)."
RETRYING = f"{PREFIX}_jobs_retrying"
RETRYING_HELP = "Jobs that failed and wait for a retry (DUMPER_RETRY_INTERVALS), over every queue."
CHECKS_SCHEDULED = f"{PREFIX}_checks_scheduled"
CHECKS_SCHEDULED_HELP = "Routing's delayed checks waiting for their time on <queue>-checks: by design, not failures."
DEAD_LETTERS = f"{PREFIX}_dead_letters"
DEAD_LETTERS_HELP = "Jobs that failed after all retries (RQ's failed registries), over every queue."
BACKLOG = f"{PREFIX}_backlog_captures"
BACKLOG_HELP = "Captures on disk not yet handed to the queue (a lower bound past 64 MiB of them)."
BACKLOG_AGE = f"{PREFIX}_backlog_oldest_age_seconds"
BACKLOG_AGE_HELP = "Age of the oldest capture waiting on disk for the queue; 0 when none waits."
BACKLOG_READABLE = f"{PREFIX}_backlog_readable"
BACKLOG_READABLE_HELP = "1 if the cursor and captures files could be read to count the backlog, else 0."
TORN_LINES = f"{PREFIX}_torn_lines"
TORN_LINES_HELP = "Unreadable capture lines kept aside in spool/torn-captures.jsonl."
FORWARDER_UP = f"{PREFIX}_forwarder_up"
FORWARDER_UP_HELP = "1 if the forwarder's heartbeat is fresh (under 15 s), else 0."
FORWARDER_AGE = f"{PREFIX}_forwarder_heartbeat_age_seconds"
FORWARDER_AGE_HELP = "Seconds since the forwarder's last heartbeat; absent if it never beat."
FORWARDER_REDIS_DOWN = f"{PREFIX}_forwarder_redis_down_seconds"
FORWARDER_REDIS_DOWN_HELP = "Seconds the live forwarder has found Redis unreachable; 0 while it answers."
WORKERS = f"{PREFIX}_workers"
WORKERS_HELP = "RQ workers registered on the receiver's queues (each beats within its 20 s TTL)."
WORKER_AGE = f"{PREFIX}_worker_heartbeat_age_seconds"
WORKER_AGE_HELP = "Seconds since each registered RQ worker's last heartbeat."
DISK_FREE = f"{PREFIX}_disk_free_bytes"
DISK_FREE_HELP = "Free bytes on the data dir's file system."

# The settings the e-mail alerts compare with, so the alerting rules follow them.
PENDING_AFTER = f"{PREFIX}_alert_pending_after_seconds"
PENDING_AFTER_HELP = "DUMPER_ALERT_PENDING_AFTER: how old the oldest waiting capture may get before an alert."
REDIS_AFTER = f"{PREFIX}_alert_redis_after_seconds"
REDIS_AFTER_HELP = "DUMPER_ALERT_REDIS_AFTER: how long Redis may be away before an alert."
MIN_FREE = f"{PREFIX}_min_free_bytes"
MIN_FREE_HELP = "DUMPER_MIN_FREE_BYTES: below this many free bytes /readyz answers 503."
SILENCE_AFTER = f"{PREFIX}_silence_after_seconds"
SILENCE_AFTER_HELP = "DUMPER_SILENCE_AFTER: how long a source may post nothing before an alert (absent: off)."
LAST_CAPTURE_AGE = f"{PREFIX}_last_capture_age_seconds"
LAST_CAPTURE_AGE_HELP = "Seconds since each source's last capture, for the sources that posted within 7 days."

# Posts refused for their credentials and kept (receiver/ops/quarantine.py); only with DUMPER_QUARANTINE on.
QUARANTINE_POSTS = f"{PREFIX}_quarantine_posts"
QUARANTINE_POSTS_HELP = "Posts refused for their credentials kept in quarantine/, not released yet."
QUARANTINE_RECENT = f"{PREFIX}_quarantine_recent_posts"
QUARANTINE_RECENT_HELP = "Of those, the posts refused within the last day: Smartech posts with credentials we refuse."
QUARANTINE_BYTES = f"{PREFIX}_quarantine_bytes"
QUARANTINE_BYTES_HELP = "Bytes kept in quarantine/ (at most DUMPER_QUARANTINE_BYTES; the oldest go first)."

# The continuous audit's last result (receiver/ops/watch.py, spool/audit.json); only with DUMPER_AUDIT_WINDOW on.
AUDIT_CAPTURES = f"{PREFIX}_audit_captures"
AUDIT_CAPTURES_HELP = "Captures the last continuous audit accounted for (those received within DUMPER_AUDIT_WINDOW)."
AUDIT_MISSING = f"{PREFIX}_audit_missing"
AUDIT_MISSING_HELP = "Captures answered 200 that the last audit found nowhere: nothing will process them."
AUDIT_STUCK = f"{PREFIX}_audit_stuck"
AUDIT_STUCK_HELP = "Captures the last audit found still waiting past DUMPER_AUDIT_STUCK_AFTER."
AUDIT_AGE = f"{PREFIX}_audit_age_seconds"
AUDIT_AGE_HELP = "Seconds since the last continuous audit ran (it runs every DUMPER_AUDIT_EVERY in `serve`)."

# Routing's sinks (with DUMPER_ROUTES only, so not in ALL): their breakers, pauses and waiting deliveries.
SINK_BREAKER_OPEN = f"{PREFIX}_sink_breaker_open"
SINK_BREAKER_OPEN_HELP = "1 while a sink's circuit breaker is open: its deliveries wait, one probe at a time tries it."
SINK_PAUSED = f"{PREFIX}_sink_paused"
SINK_PAUSED_HELP = "1 while a sink is paused (smartech-dumper sinks pause): its deliveries wait, none is lost."
DELIVERIES_WAITING = f"{PREFIX}_deliveries_waiting"
DELIVERIES_WAITING_HELP = "Delivery jobs waiting their turn (a limit, pause, breaker or Retry-After): not retries."

# Every name a scrape shows after traffic (counters with their _total); the tests compare the dashboard with it.
ALL = (
    f"{ACKS}_total",
    f"{ACK_SECONDS}_bucket",
    f"{ACK_SECONDS}_count",
    f"{ACK_SECONDS}_sum",
    EVENTS,
    REJECTS,
    SINK_DELIVERIES,
    SINK_EVENTS,
    REDIS_UP,
    QUEUE_JOBS,
    RETRYING,
    CHECKS_SCHEDULED,
    DEAD_LETTERS,
    BACKLOG,
    BACKLOG_AGE,
    BACKLOG_READABLE,
    TORN_LINES,
    FORWARDER_UP,
    FORWARDER_AGE,
    FORWARDER_REDIS_DOWN,
    WORKERS,
    WORKER_AGE,
    DISK_FREE,
    PENDING_AFTER,
    REDIS_AFTER,
    MIN_FREE,
    LAST_CAPTURE_AGE,
    QUARANTINE_POSTS,
    QUARANTINE_RECENT,
    QUARANTINE_BYTES,
    AUDIT_CAPTURES,
    AUDIT_MISSING,
    AUDIT_STUCK,
    AUDIT_AGE,
)
