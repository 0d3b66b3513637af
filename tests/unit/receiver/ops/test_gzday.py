"""compress and forget on one day: a .gz rewritten while compress copied it is copied again, never put back."""

import fcntl
import gzip
import os
import threading
import time

from receiver.core import jsonl
from receiver.ops import gzday


def test_a_gz_replaced_under_the_lock_while_compress_copies_it_is_copied_again(tmp_path):
    plain = str(tmp_path / "2026-12-01.jsonl")
    with gzip.open(plain + ".gz", "wb") as out:
        out.write(b'{"who":"7000000001"}\n')
    with open(plain, "wb") as out:
        out.write(b'{"who":"8000000002"}\n')
    lock = os.open(plain, os.O_RDONLY)
    fcntl.flock(lock, fcntl.LOCK_EX)  # what forget holds while it rewrites the .gz
    worker = threading.Thread(target=gzday.compress, args=(plain,))
    worker.start()
    time.sleep(0.3)  # compress has copied the old .gz and waits for the lock
    blanked = str(tmp_path / ".blanked")
    with gzip.open(blanked, "wb") as out:
        out.write(b'{"who":"**********"}\n')
    os.rename(blanked, plain + ".gz")
    fcntl.flock(lock, fcntl.LOCK_UN)
    os.close(lock)
    worker.join(10)
    with gzip.open(plain + ".gz", "rb") as handle:
        assert handle.read() == b'{"who":"**********"}\n{"who":"8000000002"}\n'
    assert not os.path.exists(plain) and sorted(os.listdir(tmp_path)) == ["2026-12-01.jsonl.gz"]
    assert jsonl.FILE_MODE == os.stat(plain + ".gz").st_mode & 0o777
