"""Where ``replay`` sends captures: an HTTP endpoint, or back onto our RQ queue.

Each target's ``send(record)`` returns an ``Outcome`` and never raises for a
failure of the target: a refused connection, a timeout or a Redis error is an
outcome like any other, so one bad capture never stops a replay. Targets are
used from several threads; each thread gets its own HTTP session.

Failure policy: ``send`` never raises for the target's failures (above);
``build_target`` raises ``Unreachable`` naming ``REDIS_URL`` when Redis does
not answer before the replay starts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.auth import HTTPBasicAuth
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus
from rq.queue import Queue
from rq.serializers import JSONSerializer

from receiver.capture.record import body_bytes
from receiver.core import queues as queueing
from receiver.core.logsafe import one_line, redacted_url
from receiver.core.queues import REDIS_ERRORS
from receiver.core.settings import Settings, load
from receiver.forwarder.enqueue import MAX_CAPTURES, enqueue_capture, enqueue_new
from receiver.replay.choices import DEFAULT_TIMEOUT, ReplayOptions
from receiver.replay.errors import Unreachable
from receiver.replay.send import reason
from receiver.store.files import Record

OK, STATUS, ERROR = "ok", "status", "error"
USER_AGENT = "smartech-dumper-replay"
# A job in one of these states has run: replaying it means running it again.
DONE_STATES = {JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED}


@dataclass(frozen=True)
class Outcome:
    """Say how sending one capture went: ``ok``, a non-2xx ``status`` or a connection ``error``."""

    kind: str
    detail: str

    @property
    def ok(self) -> bool:
        """Say whether the capture was delivered."""
        return self.kind == OK


class Target(Protocol):
    """Where a replay sends captures."""

    def describe(self) -> str:
        """Return where captures go, for messages and the resume state."""
        ...

    batch: int  # how many captures ``send_many`` takes at once

    def send(self, record: Record) -> Outcome:
        """Send one capture and return its outcome; never raise for a failure of the target."""
        ...

    def send_many(self, records: list[Record]) -> list[Outcome]:
        """Send up to ``batch`` captures and return their outcomes, in order; never raise."""
        ...

    def close(self) -> None:
        """Release what the target holds (sessions, connections)."""
        ...


class HttpTarget:
    """POST each capture's body, byte for byte, with its original content type."""

    batch = 1

    def __init__(
        self,
        url: str,
        user: str | None = None,
        password: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        keep_path: bool = False,
    ) -> None:
        self.url = url
        self.auth = HTTPBasicAuth(user.encode("utf-8"), (password or "").encode("utf-8")) if user is not None else None
        self.timeout = timeout
        self.keep_path = keep_path
        self.local = threading.local()

    def describe(self) -> str:
        """Return where captures go, for messages and the resume state."""
        return f"POST {self.url}" + (" (original paths)" if self.keep_path else "")

    def url_for(self, record: Record) -> str:
        """Return the URL for ``record``: ``--to`` itself, or its host with the capture's own path and query."""
        if not self.keep_path or not record.get("path"):
            return self.url
        parts = urlsplit(self.url)
        return urlunsplit((parts.scheme, parts.netloc, record["path"], record.get("query") or "", ""))

    def session(self) -> requests.Session:
        """Return this thread's HTTP session."""
        session: requests.Session | None = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = requests.Session()
            session.auth = self.auth
            session.headers["User-Agent"] = USER_AGENT
        return session

    def send_many(self, records: list[Record]) -> list[Outcome]:
        """POST each capture (``batch`` is 1: the threads of the run send them side by side)."""
        return [self.send(record) for record in records]

    def send(self, record: Record) -> Outcome:
        """POST one capture and return its outcome; redirects are not followed."""
        headers = {"Content-Type": record["content_type"]} if record.get("content_type") is not None else {}
        try:
            response = self.session().post(
                self.url_for(record),
                data=body_bytes(record),
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            return Outcome(ERROR, reason(exc))
        response.close()
        code = str(response.status_code)
        return Outcome(OK if 200 <= response.status_code < 300 else STATUS, code)

    def close(self) -> None:
        """Close this thread's session (other threads' sessions go with their threads)."""
        if getattr(self.local, "session", None) is not None:
            self.local.session.close()


class QueueTarget:
    """Put each capture back on the RQ queue, as the receiver's forwarder does: many captures to a job."""

    batch = MAX_CAPTURES

    def __init__(self, settings: Settings, queue: Queue) -> None:
        self.settings = settings
        self.queue = queue

    def describe(self) -> str:
        """Return where captures go, for messages and the resume state."""
        return f"RQ queue {self.settings.queue!r}"

    def send(self, record: Record) -> Outcome:
        """Enqueue one capture; a job that already ran is replaced so the capture runs again."""
        try:
            if enqueue_capture(self.queue, record, self.settings):
                return Outcome(OK, "enqueued")
            if not self.forget_finished(record["id"]):
                return Outcome(OK, "already queued")
            return Outcome(OK, "enqueued" if enqueue_capture(self.queue, record, self.settings) else "already queued")
        except DuplicateJobError:
            return Outcome(OK, "already queued")
        except REDIS_ERRORS as exc:
            return Outcome(ERROR, f"redis: {one_line(exc)}")

    def send_many(self, records: list[Record]) -> list[Outcome]:
        """Enqueue captures many to a job (``enqueue.enqueue_new``); one whose job already ran is queued again."""
        try:
            fresh = set(enqueue_new(self.queue, ((r["id"], r) for r in records), self.settings))
            again = [r for r in records if r["id"] not in fresh and self.forget_finished(r["id"])]
            fresh.update(enqueue_new(self.queue, ((r["id"], r) for r in again), self.settings))
        except REDIS_ERRORS as exc:
            return [Outcome(ERROR, f"redis: {one_line(exc)}")] * len(records)
        return [Outcome(OK, "enqueued" if r["id"] in fresh else "already queued") for r in records]

    def forget_finished(self, capture_id: str) -> bool:
        """Let the capture be queued again if its job has already run, or is lost to every queue; say whether."""
        connection = self.queue.connection
        job_id = queueing.jobs_of(connection, self.queue.name, [capture_id])[0]
        try:
            job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
        except NoSuchJobError:
            queueing.forget_capture(connection, self.queue.name, capture_id)
            return True  # it expired in between: enqueue again
        status: JobStatus | None = job.get_status(refresh=False)
        if status == JobStatus.QUEUED and self.queue.connection.lpos(self.queue.key, job_id) is None:
            status = None  # "queued" in no queue: popped when a connection dropped (docs/operations.md), run it
        if status is not None and status not in DONE_STATES:
            return False  # queued, started or waiting for a retry: it will run anyway
        if job_id == capture_id:
            job.delete()  # an older version's job of this capture alone
        queueing.forget_capture(connection, self.queue.name, capture_id)  # its batch stays, with its other captures
        return True

    def close(self) -> None:
        """Release the Redis connection."""
        self.queue.connection.close()


def queue_target(settings: Settings) -> QueueTarget:
    """Return the RQ queue of ``settings`` as a target, or raise ``Unreachable`` when Redis does not answer."""
    try:
        queue = queueing.get_queue(settings)
        queue.connection.ping()
    except queueing.REDIS_ERRORS as exc:
        raise Unreachable(f"REDIS_URL: cannot reach Redis at {redacted_url(settings.redis_url)}: {exc}") from None
    return QueueTarget(settings, queue)


def build_target(options: ReplayOptions, settings: Callable[[], Settings] = load) -> Target:
    """Return the target ``options`` name; ``settings`` is called for them only with ``--enqueue``."""
    if options.enqueue:
        return queue_target(settings())
    assert options.url is not None  # ReplayOptions has checked that there is exactly one target
    return HttpTarget(options.url, options.user, options.password, options.timeout, options.keep_path)
