"""Name a customer without naming them: a keyed hash of their id, for the timeline index and erasure records.

The key is 32 random bytes in ``spool/privacy.key`` (mode 0600), made once,
atomically (a second process that races to make it reads the first one's).
Without the key the hash cannot be tested against guessed ids (mobile numbers
are few enough to try them all); a data dir copied without it cannot link a
hash to a customer. Deleting the key makes the timeline index unreadable: it
is rebuilt from the files under a new key on next use.

Failure policy: OS errors propagate (the caller reports them); a key file of
the wrong size is an ``OSError`` naming it.
"""

import hashlib
import hmac
import os

from receiver.core import jsonl, layout

KEY_BYTES = 32
HASH_HEX = 32  # 128 bits of the HMAC-SHA256: no two customers of a data dir meet
HASH_PREFIX = "k:"  # a customer named by their hash (the inspector's links): ``k:`` and HASH_HEX hex digits


def key_path(data_dir: str) -> str:
    """Return the path of the data dir's privacy key."""
    return layout.spool_path(data_dir, layout.PRIVACY_KEY)


def load_key(data_dir: str, create: bool = True) -> bytes:
    """Return the data dir's privacy key, making it when there is none (or, without ``create``, raising)."""
    path = key_path(data_dir)
    try:
        with open(path, "rb") as handle:
            key = handle.read()
    except FileNotFoundError:
        if not create:
            raise
        jsonl.ensure_dir(os.path.dirname(path))
        temporary = f"{path}.{os.getpid()}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, jsonl.FILE_MODE)
        try:
            jsonl.write_all(fd, os.urandom(KEY_BYTES))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temporary, path)  # fails if another process made it first: theirs is the key
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
        return load_key(data_dir)
    if len(key) != KEY_BYTES:
        raise OSError(f"{path}: a privacy key holds {KEY_BYTES} bytes, this one {len(key)}")
    return key


def customer_hash(key: bytes, customer: str) -> str:
    """Return the keyed hash that stands for ``customer`` (a foreignkey, an identity or an e-mail)."""
    name = customer.strip()
    if name.startswith(HASH_PREFIX) and len(name) == len(HASH_PREFIX) + HASH_HEX:
        return name[len(HASH_PREFIX) :].lower()  # already the hash (a link of the inspector)
    name = name.casefold() if "@" in name else name  # e-mail addresses are one customer whatever their case
    return hmac.new(key, name.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:HASH_HEX]
