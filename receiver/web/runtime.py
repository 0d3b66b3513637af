"""One web process's live objects: its RQ queue, the breaker, the readiness cache and the group commit.

Each is made on first use, in the process that serves (after gunicorn forks
and gevent patches). The app keeps them in ``app.extensions[EXTENSION]``;
``current()`` returns them during a request. Nothing here connects until used.
"""

from functools import cached_property

from flask import current_app
from rq import Queue

from receiver.core import queues as queueing
from receiver.core.settings import Settings
from receiver.ops import readiness as status
from receiver.web import commit
from receiver.web.breaker import Breaker

EXTENSION = "smartech_dumper"


class WebRuntime:
    """Hold one process's live objects, each made on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def queue(self) -> Queue:
        """Return the RQ queue (its Redis client connects on first command)."""
        return queueing.get_queue(self.settings)

    @cached_property
    def breaker(self) -> Breaker:
        """Return the breaker that spares the hot path a Redis that just failed."""
        return Breaker()

    @cached_property
    def readiness(self) -> status.Readiness:
        """Return the cached readiness snapshot."""
        return status.Readiness(self.settings, self.queue)

    @cached_property
    def committer(self) -> commit.GroupCommit:
        """Return the group commit that writes captures."""
        return commit.GroupCommit(fsync=self.settings.fsync)


def current() -> WebRuntime:
    """Return the live objects of the process serving this request."""
    runtime: WebRuntime = current_app.extensions[EXTENSION]
    return runtime
