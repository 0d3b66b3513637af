"""Hand back a job a worker took from its queue when Redis failed, or the worker died, before the job started.

With several queues RQ dequeues with BLPOP, which leaves no trace: a job
popped just before Redis fails (or restarts from an AOF that kept the pop but
not what followed), or just before its worker is killed, is in no queue and no
registry, and RQ never runs it. With one queue RQ moves the job to an
intermediate list (BLMOVE) that it cleans up only after a minute, and a
worker killed in its BLMOVE can still take a job: Redis serves the dead
client's blocked command before it notices the closed socket. So our workers pop with one Lua script that
also records the pop, with the worker's name, in ``keys.POPPED`` (a sorted set
scored by time), and remove the record once the job has started. ``sweep``
puts back the jobs of records older than ``SWEEP_AFTER``, or whose worker is
dead, that are still queued in no list: every live worker's quick check does
so every few seconds (``reclaim.py``), its maintenance too. A live worker
also remembers what it popped and, once Redis answers, puts it back at once,
or expires its execution so RQ's own recovery retries it. Failure policy:
Redis errors propagate to the caller, which retries at its next recovery
point; nothing else is raised.
"""

import logging
import time
from collections.abc import Callable, Iterable

import redis
from rq import Queue
from rq.exceptions import DequeueTimeout
from rq.job import Job
from rq.serializers import JSONSerializer

from receiver.core import keys

log = logging.getLogger("receiver.worker")
POLL_INTERVAL = 0.05  # an idle worker asks every 50 ms: a script cannot block as BLPOP does
SWEEP_AFTER = 10.0  # a pop is followed by its start within milliseconds; a record this old is an orphan's
SWEEP_BATCH = 1000
# Pop the first job of the first non-empty queue and record the pop, in one step nothing can split.
POP_AND_RECORD = """
local popped = KEYS[#KEYS]
for i = 1, #KEYS - 1 do
  local id = redis.call('LPOP', KEYS[i])
  if id then
    redis.call('ZADD', popped, ARGV[1], KEYS[i] .. '|' .. id .. '|' .. ARGV[2])
    return {KEYS[i], id}
  end
end
return false
"""
# Drop a pop record and, if its job is `queued` in no list, push it at the front of its queue: one step,
# so of two workers sweeping at once only the one that removed the record puts the job back.
PUT_BACK_RECORD = """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
if redis.call('HGET', KEYS[2], 'status') ~= 'queued' then return 0 end
if redis.call('LPOS', KEYS[3], ARGV[2]) then return 0 end
redis.call('LPUSH', KEYS[3], ARGV[2])
return 1
"""


def as_text(member: object) -> str:
    """Return a member Redis answered (bytes: we do not decode responses) as text."""
    return member.decode() if isinstance(member, bytes) else str(member)


def record_of(queue_name: str, job_id: str, worker: str = "") -> str:
    """Return the ``keys.POPPED`` member of a job ``worker`` popped from ``queue_name``."""
    return f"{Queue.redis_queue_namespace_prefix}{queue_name}|{job_id}|{worker}"


def parse_record(member: str) -> tuple[str, str, str]:
    """Return the queue name, job id and worker name (``""`` in an older record) of a ``keys.POPPED`` member."""
    key, _, rest = member.partition("|")
    job_id, _, worker = rest.partition("|")
    return key.removeprefix(Queue.redis_queue_namespace_prefix), job_id, worker


class RememberingQueue(Queue):
    """RQ's queue, noting the last job id its dequeue popped (one worker per process uses it)."""

    popped: tuple[str, str] | None = None  # (queue name, job id)
    worker_name = ""  # the name of the worker that pops, in its pop records (set when the worker starts)

    @classmethod
    def lpop(cls, queue_keys, timeout, connection=None):  # type: ignore[no-untyped-def]
        """Pop as RQ does (queues in order, waiting up to ``timeout``), recording the pop in Redis too."""
        assert connection is not None
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            result = connection.eval(
                POP_AND_RECORD, len(queue_keys) + 1, *queue_keys, keys.POPPED, time.time(), cls.worker_name
            )
            if result:
                key, job_id = (part.decode() if isinstance(part, bytes) else part for part in result)
                RememberingQueue.popped = (key.removeprefix(Queue.redis_queue_namespace_prefix), job_id)
                return key, job_id
            if deadline is None:
                return None
            if time.monotonic() >= deadline:
                raise DequeueTimeout(timeout, queue_keys)
            time.sleep(POLL_INTERVAL)

    @classmethod
    def lmove(cls, connection, queue_key, timeout):  # type: ignore[no-untyped-def]
        """Pop from one queue as from several: recorded, never through RQ's intermediate list."""
        return cls.lpop([queue_key], timeout, connection=connection)

    @classmethod
    def dequeue_any(cls, *args, **kwargs):  # type: ignore[no-untyped-def]
        """Dequeue as RQ does; forget the pop once the job is handed over (a Redis error keeps it noted)."""
        result = super().dequeue_any(*args, **kwargs)
        RememberingQueue.popped = None  # the worker holds the job now, as ``in_hand``
        return result


def put_back(connection: redis.Redis, queue: Queue, job_id: str) -> bool:
    """Push ``job_id`` at the front of ``queue`` if it is `queued` yet in no place RQ looks; return whether."""
    status = connection.hget(Job.key_for(job_id), "status")
    if status == b"queued" and connection.lpos(queue.key, job_id) is None:
        connection.lpush(queue.key, job_id)  # the front: it was the next job to run
        return True
    return False


def hand_back(connection: redis.Redis, queue_name: str, job_id: str, execution_key: str | None = None) -> str:
    """Make sure a job a failed worker held runs again; return what was done (for the log and the tests)."""
    queue = Queue(queue_name, connection=connection, serializer=JSONSerializer)
    registry = queue.started_job_registry
    if execution_key is None:  # the start was sent, maybe applied: look for any execution of the job
        members = (as_text(m) for m in connection.zrange(registry.key, 0, -1))
        keys = [m for m in members if m.startswith(f"{job_id}:")]
    else:
        keys = [execution_key]
    started = [key for key in keys if connection.zscore(registry.key, key) is not None]
    if started:
        # Expire the execution now (not when its heartbeat lapses); RQ's cleanup then retries the job,
        # or files it as a dead letter when no retry is left, exactly as for any abandoned job.
        connection.zadd(registry.key, dict.fromkeys(started, 0), xx=True)
        registry.cleanup()
        if put_back(connection, queue, job_id):
            # A failover kept the registry entry but not the job's `started` status (two writes, the
            # master died between them): RQ's cleanup skips a job that is not started and drops the entry.
            log.warning("job %s was started when Redis failed, and is queued again: put back at the front", job_id)
            return "requeued"
        log.warning("job %s was in hand when Redis failed: handed back to RQ for a retry", job_id)
        return "retried"
    if put_back(connection, queue, job_id):
        log.warning("job %s was dequeued when Redis failed: put back at the front of %s", job_id, queue_name)
        return "requeued"
    return "nothing to do"


def started(connection: redis.Redis, queue_name: str, job_id: str, worker: str = "") -> None:
    """Drop the record of a pop whose job has started: RQ's registries cover it from here."""
    connection.zrem(keys.POPPED, record_of(queue_name, job_id, worker))


def sweep(
    connection: redis.Redis, older_than: float | None = None, dead: Callable[[Iterable[str]], set[str]] | None = None
) -> int:
    """Put back the jobs of pop records older than ``older_than`` s (``SWEEP_AFTER``), or whose worker is
    among the names ``dead`` returns of those it is given, that never started; return how many."""
    returned, cutoff = 0, time.time() - (SWEEP_AFTER if older_than is None else older_than)
    oldest: list[tuple[bytes, float]]
    oldest = connection.zrange(keys.POPPED, 0, SWEEP_BATCH - 1, withscores=True)  # type: ignore[assignment]
    parsed = [(text, score, *parse_record(text)) for text, score in ((as_text(m), s) for m, s in oldest)]
    gone = dead({record[-1] for record in parsed if record[-1]}) if dead is not None else set()
    for member, score, queue_name, job_id, worker in parsed:
        if score > cutoff and worker not in gone:
            continue
        queue = Queue(queue_name, connection=connection)
        if connection.eval(PUT_BACK_RECORD, 3, keys.POPPED, Job.key_for(job_id), queue.key, member, job_id):
            who = f"worker {worker}, which died before starting it" if worker in gone else "a worker that never ran it"
            log.warning("job %s was popped by %s: put back at the front of %s", job_id, who, queue_name)
            returned += 1
    return returned
