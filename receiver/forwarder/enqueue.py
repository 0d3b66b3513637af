"""Hand captures to RQ: one job per capture, its id the capture id, queued only if it does not exist yet.

``enqueue_absent`` queues the job of each capture whose job does not exist,
atomically (``queues.enqueue_jobs_absent``): a replay racing the forwarder
cannot queue a capture twice. Redis errors propagate to the caller.
"""

from collections.abc import Iterable
from typing import Any

from rq import Queue

from receiver.core.queues import RESULT_TTL, enqueue_jobs_absent, retry_policy
from receiver.core.settings import Settings

JOB_FUNCTION = "jobs.process.process_capture"


def job_options(capture: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Return the keyword arguments of the job that processes ``capture``."""
    return {
        "job_id": capture["id"],
        "timeout": max(1, round(settings.job_timeout)),
        "result_ttl": RESULT_TTL,
        "retry": retry_policy(settings),
        "description": f"capture {capture['id']} from {capture.get('source')}",
    }


def enqueue_capture(queue: Queue, capture: dict[str, Any], settings: Settings) -> bool:
    """Enqueue the job that processes ``capture``; return False if that job already exists."""
    return enqueue_absent(queue, [capture], settings) == 1


def enqueue_absent(queue: Queue, captures: Iterable[dict[str, Any]], settings: Settings) -> int:
    """Queue the job of each capture whose job does not exist, atomically; return how many were queued."""
    captures = list({capture["id"]: capture for capture in captures}.values())
    return enqueue_jobs_absent(
        queue,
        [Queue.prepare_data(JOB_FUNCTION, args=(capture,), **job_options(capture, settings)) for capture in captures],
    )
