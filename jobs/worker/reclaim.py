"""Hand back at once the jobs of a worker that died: those it had started, and those it had popped.

RQ notices a dead worker's job only once the job's heartbeat lapses, a minute
and more after the kill (``runner.py``). Each of our workers keeps a liveness
key with a TTL of a few seconds (``liveness.py``), so a live worker can tell
within seconds that another one is gone, and ``reclaim`` (which live workers
run every few seconds) does, for each of the queues it is given:

- every execution in the queue's started registry whose worker has no
  liveness key is removed, and its job put back at the front of its queue,
  ``queued``, without spending a retry: a kill is not the job's fault. One
  Lua script per execution, so of two workers reclaiming at once only one
  puts the job back;
- every pop record (``pops.py``) whose worker has no liveness key, or older
  than ``pops.SWEEP_AFTER``, has its job put back the same way.

It reads only RQ's registries and executions, never what a job is, so it
serves any RQ job on our queues. A live worker whose key merely lapsed (Redis
slower than the TTL) sees its job run a second time elsewhere: harmless, the
ledger writes each event once. So would a worker on our queues that keeps no
liveness key (not ours, or ours before this): every worker on them must be
ours. RQ's own recovery stays as the fallback for anything left here.

Failure policy: Redis errors propagate to the caller (the worker notes the
outage and checks again later); an execution whose worker cannot be read is
left to RQ's own recovery.
"""

import logging
from collections.abc import Iterable, Sequence

import redis
from rq import Queue
from rq.executions import Execution, ExecutionRegistry
from rq.job import Job

from jobs.worker import pops
from jobs.worker.pops import as_text
from receiver.core import keys

log = logging.getLogger("receiver.worker")
# Drop one execution from its started registry and put its job back at the front of its queue, `queued`.
# KEYS: started registry, job hash, queue list, execution hash, job's executions, worker's executions.
# ARGV: execution composite key, job id, execution id.
HAND_BACK = """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 'gone' end
redis.call('DEL', KEYS[4])
redis.call('ZREM', KEYS[5], ARGV[3])
redis.call('SREM', KEYS[6], ARGV[1])
local status = redis.call('HGET', KEYS[2], 'status')
if status ~= 'started' and status ~= 'queued' then return 'dropped' end
redis.call('HSET', KEYS[2], 'status', 'queued')
if redis.call('LPOS', KEYS[3], ARGV[2]) then return 'queued' end
redis.call('LPUSH', KEYS[3], ARGV[2])
return 'requeued'
"""


def dead_workers(connection: redis.Redis, names: Iterable[str]) -> set[str]:
    """Return those of the worker ``names`` whose liveness key is missing, in one round trip."""
    named = sorted(set(names))
    with connection.pipeline(transaction=False) as pipeline:
        for name in named:
            pipeline.exists(keys.alive(name))
        found = pipeline.execute()
    return {name for name, exists in zip(named, found, strict=True) if not exists}


def abandoned(connection: redis.Redis, queue_names: Sequence[str]) -> list[tuple[str, str, str]]:
    """Return ``(queue name, execution composite key, worker name)`` of each started job whose worker is dead."""
    entries = []
    for name in queue_names:
        registry = Queue(name, connection=connection).started_job_registry
        entries += [(name, as_text(member)) for member in connection.zrange(registry.key, 0, -1)]
    if not entries:
        return []
    with connection.pipeline(transaction=False) as pipeline:
        for _, composite_key in entries:
            pipeline.hget(Execution.from_composite_key(composite_key, connection).key, "worker_name")
        workers = [as_text(worker) if worker else "" for worker in pipeline.execute()]
    dead = dead_workers(connection, (worker for worker in workers if worker))
    return [(name, key, worker) for (name, key), worker in zip(entries, workers, strict=True) if worker in dead]


def hand_back_execution(connection: redis.Redis, queue_name: str, composite_key: str, worker: str) -> str:
    """Drop one execution of a dead worker and put its job back at the front of ``queue_name``; say what was done.

    ``requeued``: put back; ``queued``: it was in its queue already; ``dropped``: the job had ended (or is
    gone), only the entry was left; ``gone``: another worker handed it back first.
    """
    execution = Execution.from_composite_key(composite_key, connection)
    execution.worker_name = worker
    queue = Queue(queue_name, connection=connection)
    script_keys = (
        queue.started_job_registry.key,
        Job.key_for(execution.job_id),
        queue.key,
        execution.key,
        ExecutionRegistry(execution.job_id, connection).key,
        execution.worker_executions_key,
    )
    done = as_text(
        connection.eval(HAND_BACK, len(script_keys), *script_keys, composite_key, execution.job_id, execution.id)
    )
    if done == "requeued":
        said = (execution.job_id, worker, queue_name)
        log.warning("job %s was started by worker %s, which died: put back at the front of %s", *said)
    return done


def reclaim(connection: redis.Redis, queue_names: Sequence[str], only: str | None = None) -> int:
    """Put back the jobs dead workers held on ``queue_names``, started or only popped; return how many.

    ``only``: the jobs of that worker alone (a worker taking over the name of one that died).
    """
    returned = sum(
        hand_back_execution(connection, name, key, worker) == "requeued"
        for name, key, worker in abandoned(connection, queue_names)
        if only is None or worker == only
    )

    def dead(names: Iterable[str]) -> set[str]:
        return {worker for worker in dead_workers(connection, names) if only is None or worker == only}

    return returned + pops.sweep(connection, dead=dead)
