"""Build the text of ``GET /metrics``: the web workers' counters from their files, and the scrape-time state.

Failure policy: ``render`` never raises for metrics. Unreadable counter files
are logged and left out; the collector reports what it can (``collector``).
"""

import logging
import os

import redis
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from receiver.core.settings import Settings
from receiver.metrics.collector import StateCollector

log = logging.getLogger("receiver.metrics")
CONTENT_TYPE = CONTENT_TYPE_LATEST


def render(settings: Settings, connection: redis.Redis) -> bytes:
    """Return the exposition text of every metric."""
    registry = CollectorRegistry(auto_describe=False)
    path = os.path.abspath(settings.metrics_dir)
    if os.path.isdir(path):  # absent until `serve` has run on this host: then there are no acks to show
        registry.register(SafeFiles(path))
    registry.register(StateCollector(settings, connection))
    return generate_latest(registry)


class SafeFiles(MultiProcessCollector):
    """Read the web workers' counter files, logging instead of raising when they cannot be read."""

    def __init__(self, path: str) -> None:
        super().__init__(None, path=path)

    def collect(self):  # type: ignore[no-untyped-def]  # prometheus_client's own signature, untyped
        """Yield the summed counters of every web worker, or nothing if the files cannot be read."""
        try:
            return list(super().collect())
        except Exception:
            log.exception("metrics: cannot read the counter files in %s", self._path)
            return []
