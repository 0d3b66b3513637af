"""The two commands that send a capture again: a byte-exact ``curl``, and ``smartech-dumper replay``.

The curl command carries the body as base64 (``printf %s '…' | base64 -d |
curl --data-binary @-``): base64 survives copying, any shell and any body,
and ``--data-binary`` sends the decoded bytes unchanged. A body over
``MAX_INLINE_BYTES`` is sent from the downloaded raw file instead. The
original Content-Type goes along (none if Smartech sent none), and so do the
path and query; credentials come from ``DUMPER_REPLAY_USER`` and
``DUMPER_REPLAY_PASSWORD`` in the shell, as for ``replay --to``, so the
page never holds a password.
"""

import base64
import shlex
from typing import Any

from receiver.store.safetext import is_unsafe
from receiver.store.text import safe_str

MAX_INLINE_BYTES = 256 * 1024
WEBHOOK_PREFIX = "/webhook"
CREDENTIALS = '-u "$DUMPER_REPLAY_USER:$DUMPER_REPLAY_PASSWORD"'


def shell_quote(text: str) -> str:
    """Quote ``text`` for a POSIX shell; with unsafe characters, as bash's ``$'…'`` with ``\\xHH`` bytes.

    A control or format character (from a hand-made record) stays visible on the page and in a
    terminal, and the shell still passes the exact bytes on.
    """
    if not any(is_unsafe(char) for char in text):
        return shlex.quote(text)
    parts = []
    for char in text:
        if char in "\\'":
            parts.append("\\" + char)
        elif is_unsafe(char):
            parts.append("".join(f"\\x{byte:02x}" for byte in char.encode("utf-8", "surrogatepass")))
        else:
            parts.append(char)
    return "$'" + "".join(parts) + "'"


def target_url(record: dict[str, Any], receiver_url: str) -> str:
    """Return the receiver URL the capture was posted to: its path and query on ``receiver_url``."""
    path = safe_str(record.get("path") or "")
    if not path.startswith(WEBHOOK_PREFIX):
        path = WEBHOOK_PREFIX + "/"  # a hand-made record: the plain webhook
    query = safe_str(record.get("query") or "")
    return receiver_url + path + (f"?{query}" if query else "")


def raw_file_name(record: dict[str, Any]) -> str:
    """Return the file name the raw body downloads as."""
    return f"capture-{safe_str(record['id'])}.bin"


def curl_command(record: dict[str, Any], body: bytes, receiver_url: str) -> str:
    """Return a shell command that posts ``body`` byte for byte, with the capture's Content-Type."""
    content_type = record.get("content_type")
    header = "Content-Type:" if content_type is None else f"Content-Type: {safe_str(content_type)}"
    post = f"curl -sS {CREDENTIALS} -H {shell_quote(header)} --data-binary @"
    url = shell_quote(target_url(record, receiver_url))
    if len(body) > MAX_INLINE_BYTES:
        return f"{post}{shell_quote(raw_file_name(record))} {url}"
    encoded = base64.b64encode(body).decode("ascii")
    return f"printf %s '{encoded}' | base64 -d | {post}- {url}"


def replay_command(record: dict[str, Any], receiver_url: str, data_dir: str) -> str:
    """Return the ``smartech-dumper replay`` line that sends the capture to its original path."""
    capture_id = shell_quote(safe_str(record["id"]))
    return (
        f"smartech-dumper replay --id {capture_id} --to {shell_quote(receiver_url)} --keep-path "
        f"--data-dir {shell_quote(data_dir)}"
    )
