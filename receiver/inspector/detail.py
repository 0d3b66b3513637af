"""Gather everything about one capture: record, body, payload, events, status, where it went, replays.

The page and ``/api/captures/<id>`` show the same ``Detail``. The payload
and events are the worker's own analysis (``receiver.store.reading.Reading``).
The record is found by ``receiver.store.lookup`` (bisected by time, at most
``LOOKUP_SECONDS``), so an id costs the same on a day of 200,000 captures
as on a day of ten. Failure policy: a capture the analysis chokes on (a
hostile hand-made record) still shows its record and body, with the error;
an unknown id, or one not found in time, raises ``UnknownCaptureError``.
"""

import logging
from dataclasses import dataclass
from typing import Any

import redis

from receiver.core.settings import Settings
from receiver.inspector import replaycmd, whereabouts
from receiver.store.bodies import BodyView, body_view
from receiver.store.filters import Record
from receiver.store.lookup import find_capture
from receiver.store.masking import Mask, masked_pair
from receiver.store.reading import Reading
from receiver.store.safetext import json_text
from receiver.store.select import capture_reader
from receiver.store.text import describe_error

log = logging.getLogger("receiver.inspector")
EVENT_OMITTED = ("raw",)  # each event's raw is a part of the payload shown above it
RECORD_FIELDS = (
    "id",
    "received_at",
    "source",
    "user",
    "remote_addr",
    "method",
    "path",
    "query",
    "content_type",
    "size",
)


@dataclass
class Detail:
    """Hold one capture as the detail page and the API show it."""

    record: Record
    analysis: Reading
    body: BodyView
    error: str | None  # the analysis failed: why
    where: dict[str, Any]
    curl: str | None
    replay: str

    @property
    def fields(self) -> list[tuple[str, Any]]:
        """Return the record's metadata fields that are present, in order."""
        return [(name, self.record[name]) for name in RECORD_FIELDS if self.record.get(name) is not None]

    def payload_json(self) -> str:
        """Return the decoded payload as indented JSON, unsafe characters escaped."""
        return json_text(self.analysis.value, indent=2)

    def events(self) -> list[tuple[Record, str, str]]:
        """Return each event with its indented JSON (``raw`` omitted) and what the events files hold of it."""
        return [
            (event, json_text({k: v for k, v in event.items() if k not in EVENT_OMITTED}, indent=2), fate.text())
            for event, fate in zip(self.analysis.events, self.analysis.fates)
        ]

    def api(self) -> dict[str, Any]:
        """Return the JSON-safe view that ``/api/captures/<id>`` serves."""
        analysed = self.error is None
        return {
            "capture": self.record,
            "body": {"encoding": self.body.encoding, "utf8": self.body.is_utf8, "form": self.body.form},
            "payload": self.analysis.value if analysed else None,
            "events": self.analysis.events if analysed else [],
            "written": [fate.api() for fate in self.analysis.fates] if analysed else [],
            "warnings": self.analysis.warnings if analysed else [],
            "status": self.analysis.status if analysed else "error",
            "reason": self.analysis.reason if analysed else None,
            "error": self.error,
            "where": self.where,
            "replay": {"curl": self.curl, "command": self.replay},
        }


def analysed(analysis: Reading) -> str | None:
    """Run the analysis; return None, or the error of a capture it cannot handle."""
    try:
        analysis.status  # noqa: B018 - runs and caches the worker's analysis
    except Exception as exc:  # noqa: BLE001 - a hostile record must still show its body
        return describe_error(exc)
    return None


def capture_detail(settings: Settings, connection: redis.Redis, capture_id: str, mask: Mask | None = None) -> Detail:
    """Return the ``Detail`` of capture ``capture_id`` (a normalised id), masked with ``mask``: body and curl too."""
    found = find_capture(settings.data_dir, capture_id, capture_reader(log.warning))
    record, analysis = masked_pair(found, Reading(found, settings.data_dir), mask)
    body = body_view(record)
    receiver_url = settings.inspect_receiver_url
    return Detail(
        record=record,
        analysis=analysis,
        body=body,
        error=analysed(analysis),
        where=whereabouts.where(settings, connection, capture_id),
        curl=replaycmd.curl_command(record, body.raw, receiver_url) if body.raw is not None else None,
        replay=replaycmd.replay_command(record, receiver_url, settings.data_dir),
    )
