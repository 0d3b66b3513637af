"""Hand captures to RQ, many to a job: each capture queued once, in a job bounded by a count and by bytes.

A job (``jobs.process.process_batch``) carries up to ``MAX_CAPTURES`` captures
and about ``MAX_BYTES`` of them, as the lines the captures files hold (the
forwarder) or as records (a replay, the audit's requeue, the disk-failure
path): RQ's cost per job, in the forwarder and in the worker, is paid once
per batch instead of once per capture. ``enqueue_absent`` queues only the
captures no job holds yet, atomically with the job (``queues.enqueue_batch_absent``):
a replay racing the forwarder cannot queue a capture twice, and which job
holds a capture stays answerable per capture (``queues.jobs_of``). Redis
errors propagate to the caller.
"""

import json
import uuid
from collections.abc import Iterable
from typing import Any

from rq import Queue

from receiver.core.queues import RESULT_TTL, batch_timeout, enqueue_batch_absent, retry_policy
from receiver.core.settings import Settings

JOB_FUNCTION = "jobs.process.process_batch"
MAX_CAPTURES = 500  # captures in one job
MAX_BYTES = 1024 * 1024  # about that much of them in one job (one capture bigger than this goes alone)
BATCH_PREFIX = "batch-"

# One capture for a job: its id, and its captures line as text (the forwarder) or its record (everyone else).
Item = tuple[str, str | dict[str, Any]]


def job_options(count: int, settings: Settings) -> dict[str, Any]:
    """Return the keyword arguments of a job of ``count`` captures."""
    return {
        "job_id": BATCH_PREFIX + uuid.uuid4().hex,
        "timeout": batch_timeout(settings, count),
        "result_ttl": RESULT_TTL,
        "retry": retry_policy(settings),
        "description": f"{count} captures",
    }


def size_of(item: Item) -> int:
    """Return about how many bytes a capture adds to its job."""
    body = item[1]
    return len(body) if isinstance(body, str) else len(json.dumps(body))


def chunks(items: list[Item]) -> Iterable[list[Item]]:
    """Split ``items`` into jobs of at most ``MAX_CAPTURES`` captures and about ``MAX_BYTES``."""
    chunk: list[Item] = []
    size = 0
    for item in items:
        each = size_of(item)
        if chunk and (len(chunk) >= MAX_CAPTURES or size + each > MAX_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += each
    if chunk:
        yield chunk


def enqueue_items(queue: Queue, items: Iterable[Item], settings: Settings) -> int:
    """Queue the captures of ``items`` that no job holds yet, in as few jobs as the bounds allow; return how many."""
    return len(enqueue_new(queue, items, settings))


def enqueue_new(queue: Queue, items: Iterable[Item], settings: Settings) -> list[str]:
    """Queue the captures of ``items`` that no job holds yet, in as few jobs as the bounds allow; return their ids."""
    unique = list({capture_id: (capture_id, body) for capture_id, body in items}.values())
    queued: list[str] = []
    for chunk in chunks(unique):
        bodies = [body for _, body in chunk]

        def build(fresh: list[int], bodies: list[str | dict[str, Any]] = bodies) -> Any:
            chosen = [bodies[position] for position in fresh]
            return Queue.prepare_data(JOB_FUNCTION, args=(chosen,), **job_options(len(chosen), settings))

        fresh = enqueue_batch_absent(queue, [capture_id for capture_id, _ in chunk], build)
        queued += [chunk[position][0] for position in fresh]
    return queued


def enqueue_absent(queue: Queue, captures: Iterable[dict[str, Any]], settings: Settings) -> int:
    """Queue each capture record that no job holds yet, atomically; return how many were queued."""
    return enqueue_items(queue, ((capture["id"], capture) for capture in captures), settings)


def enqueue_capture(queue: Queue, capture: dict[str, Any], settings: Settings) -> bool:
    """Queue the job of one capture record; return False if a job already holds it."""
    return enqueue_absent(queue, [capture], settings) == 1
