"""Make capture ids: ULIDs, unique and sortable by time to the millisecond.

Within one process, ids made in the same millisecond increase too (the
random part is incremented), so ids from one worker sort in arrival order.
"""

import os
import threading
import time

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ID_LENGTH = 26
RANDOM_BITS = 80

_lock = threading.Lock()
_last = [0, 0]  # last millisecond, last random part


def new_id() -> str:
    """Return a new 26-character ULID; only ``[0-9A-Z]``, so it is a valid RQ job id."""
    ms = int(time.time() * 1000)
    with _lock:
        if ms <= _last[0]:
            ms, rand = _last[0], _last[1] + 1
        else:
            rand = int.from_bytes(os.urandom(RANDOM_BITS // 8), "big") >> 1  # room to increment
        _last[0], _last[1] = ms, rand
    return encode((ms << RANDOM_BITS) | rand)


def encode(value: int) -> str:
    """Encode a 128-bit integer as 26 Crockford base32 characters."""
    chars = []
    for _ in range(ID_LENGTH):
        chars.append(CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def id_time_ms(capture_id: str) -> int:
    """Return the millisecond timestamp encoded in a ULID."""
    value = 0
    for char in capture_id[:10]:
        value = value * 32 + CROCKFORD.index(char)
    return value
