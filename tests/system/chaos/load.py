"""Post realistic batches at a steady rate, and remember what each answer promises.

Bodies: Smartech form batches with a guid per event, Netcore Email API arrays
(with an identical event twice in some, which must stay two events: each has
its place in its capture, ``c:<capture id>:<position>``), and bad
bodies that must end as a reject. What each 200 must become is computed with
the worker's own analysis, so the check at the end compares like with like.
"""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlencode

import requests

from receiver.capture.analyse import analyse_capture
from receiver.replay import samples
from tests.support.helpers import PASSWORD, USER

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
SENDERS = 16
TIMEOUT = 30.0
PLACEHOLDER = "X"  # the capture id of the analysis at post time; the 200 names the real one


@dataclass
class Post:
    """One request and how it went."""

    kind: str
    body: bytes
    content_type: str
    expected: list  # event ids a 200 must produce, for a capture id PLACEHOLDER; empty for a body to reject
    sent_at: float = 0.0
    answered_at: float = 0.0
    status: object = None  # an HTTP status, or the name of a connection error
    capture_id: str = None
    faults: set = field(default_factory=set)

    def event_ids(self):
        """Return the ids the 200 must produce: a guid, or the place in the capture the answer named."""
        placeholder = f"c:{PLACEHOLDER}:"
        return [
            f"c:{self.capture_id}:{i[len(placeholder) :]}" if i.startswith(placeholder) else i for i in self.expected
        ]


def smartech_batch(number, rng):
    """Return a Smartech form body of one to three events, each with a guid."""
    events = []
    for index in range(rng.randint(1, 3)):
        event = samples.channel_event(rng.choice(["SMS_CLICK", "EMAIL_OPEN", "APN_VIEW", "SMS_DELIVERED"]))
        event["event_params"]["guid"] = f"chaos-{number}-{index}"
        event["att_params"]["CITY"] = "Thane&Kalyan मुंबई a+b"
        events.append(event)
    return urlencode({"data": json.dumps(samples.payload(events), ensure_ascii=False)}).encode(), FORM


def email_api_batch(number, rng):
    """Return a Netcore Email API array; some hold one event twice, which must stay two events."""
    event = {
        "TRANSID": 9007199254740993000 + number,
        "EMAIL": f"u{number}@example.com",
        "EVENT": "click",
        "TIMESTAMP": 1700000000 + number,
        "URL": f"https://example.com/{number}",
    }
    other = {**event, "URL": f"https://example.com/{number}/b"}
    batch = [event, other] + ([dict(event)] if rng.random() < 0.3 else [])
    return json.dumps(batch).encode(), JSON


def make_post(number, rng):
    """Return the ``Post`` for request ``number``: its body and what a 200 must become."""
    draw = rng.random()
    if draw < 0.1:
        return Post("bad", b"data=%7B%22broken", FORM, [])
    body, content_type = (email_api_batch if draw < 0.35 else smartech_batch)(number, rng)
    analysis = analyse_capture(
        {
            "id": PLACEHOLDER,
            "body": body.decode(),
            "content_type": content_type,
            "source": "default",
            "received_at": "2026-01-01T00:00:00.000Z",
        }
    )
    return Post(
        "email_api" if content_type == JSON else "smartech",
        body,
        content_type,
        [event["event_id"] for event in analysis.events],
    )


class Load:
    """Send ``rate`` posts a second to ``url`` from a pool of senders, until stopped."""

    def __init__(self, url, rate, rng, faults):
        self.url, self.rate, self.rng, self.faults = url, rate, rng, faults
        self.posts = []
        self.lock = threading.Lock()
        self.local = threading.local()

    def session(self):
        """Return this sender's HTTP session."""
        if getattr(self.local, "session", None) is None:
            self.local.session = requests.Session()
            self.local.session.auth = (USER, PASSWORD)
        return self.local.session

    def send(self, post):
        """Send one post and record its outcome and the faults active meanwhile."""
        post.sent_at = time.monotonic()
        post.faults = set(self.faults.active)
        try:
            answer = self.session().post(
                self.url + "/webhook", data=post.body, timeout=TIMEOUT, headers={"Content-Type": post.content_type}
            )
            post.status = answer.status_code
            if answer.status_code == 200:
                post.capture_id = answer.json()["id"]
        except requests.RequestException as exc:
            post.status = type(exc).__name__
            self.local.session = None  # a broken connection: start a new one
        post.answered_at = time.monotonic()
        post.faults |= self.faults.active | self.faults.ended_since(post.sent_at)

    def run(self, duration):
        """Post for ``duration`` seconds at the steady rate; return every ``Post``."""
        with ThreadPoolExecutor(SENDERS) as pool:
            start = time.monotonic()
            number = 0
            while time.monotonic() - start < duration:
                due = start + number / self.rate
                time.sleep(max(0.0, due - time.monotonic()))
                post = make_post(number, self.rng)
                self.posts.append(post)
                pool.submit(self.send, post)
                number += 1
        return self.posts
