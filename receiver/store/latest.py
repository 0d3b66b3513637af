"""What ``tail`` shows: the latest captures that match the filters, then each new one as it arrives.

The latest come from the live files the ``Follower`` watches, then from
older files (newest first) until there are enough; only ``count`` of them
are held at a time.

Failure policy: a capture that cannot be matched is skipped and handed to
the ``warn`` callback (``select.matching``); unreadable files raise
``DataFileError``. Nothing is printed here.
"""

from collections import deque
from collections.abc import Iterator

from receiver.store.files import Warn
from receiver.store.filters import Filters
from receiver.store.follow import Follower
from receiver.store.select import Pair, matching


def last_matching(follower: Follower, filters: Filters, count: int, warn: Warn | None = None) -> deque[Pair]:
    """Return the last ``count`` matching captures: from the live files, then older ones if needed."""
    data_dir = follower.data_dir
    latest = deque(matching(follower.poll(), filters, limit=False, warn=warn, data_dir=data_dir), maxlen=count)
    for path in follower.older():
        if len(latest) >= count:
            break
        earlier = deque(
            matching(follower.reader.records(path), filters, limit=False, warn=warn, data_dir=data_dir),
            maxlen=count - len(latest),
        )
        latest.extendleft(reversed(earlier))
    return latest


def skip_to_end(follower: Follower) -> None:
    """Read the live files to their end without showing anything: follow from now on."""
    for _ in follower.poll():
        pass


def new_matching(follower: Follower, filters: Filters, warn: Warn | None = None) -> Iterator[Pair]:
    """Yield each new capture that matches, forever, as the follower finds it."""
    yield from matching(follower.follow(), filters, limit=False, warn=warn, data_dir=follower.data_dir)
