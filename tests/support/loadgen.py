"""Post one-event Smartech bodies at a steady rate from several threads and record every answer."""

import threading
import time

import requests

from tests.support.helpers import PASSWORD, USER
from tests.support.procs import FORM, event_body


class Load:
    """POST ``guids`` to ``url``/webhook at ``rate`` a second from ``threads`` keep-alive sessions."""

    def __init__(self, url, guids, rate, threads, verify):
        self.url, self.guids, self.rate, self.verify = url, list(guids), rate, verify
        self.answers = {}  # guid -> (status code or exception class name, monotonic time answered)
        self.lock = threading.Lock()
        self.next = 0
        self.start = time.monotonic()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]
        for thread in self.threads:
            thread.start()

    def take(self):
        """Return the next guid and when it is due, or (None, None) when all are taken."""
        with self.lock:
            if self.next == len(self.guids):
                return None, None
            index, self.next = self.next, self.next + 1
        return self.guids[index], self.start + index / self.rate

    def run(self):
        """Post until every guid is taken, each no sooner than its turn."""
        session = requests.Session()
        session.auth = (USER, PASSWORD)
        while True:
            guid, due = self.take()
            if guid is None:
                return
            time.sleep(max(0.0, due - time.monotonic()))
            try:
                # verify per request: a session's own is overridden by REQUESTS_CA_BUNDLE (a requests quirk).
                answer = session.post(
                    self.url + "/webhook", data=event_body(guid), headers=FORM, timeout=60, verify=self.verify
                )
                status = answer.status_code
            except requests.RequestException as exc:
                status = type(exc).__name__
            with self.lock:
                self.answers[guid] = (status, time.monotonic())

    def done(self):
        """Return how many posts have been answered so far."""
        with self.lock:
            return len(self.answers)

    def wait_for(self, count, timeout=120):
        """Wait until ``count`` posts have been answered."""
        deadline = time.monotonic() + timeout
        while self.done() < count:
            assert time.monotonic() < deadline, f"only {self.done()} of {count} posts answered"
            time.sleep(0.02)

    def join(self):
        """Wait for every thread; return the answers."""
        for thread in self.threads:
            thread.join(timeout=300)
        return dict(self.answers)
