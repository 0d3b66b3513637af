"""The inspector's JSON for tools and for the page's live updates: ``/api/captures`` and ``/api/captures/<id>``.

The JSON is standard (exact big integers; NaN from a hand-made file as a
string) with control and format characters as ``\\u`` escapes, as ``list
--json`` writes it. ``after`` turns a listing into a poll: only captures newer
than it, and the ``after`` to send next time.
"""

from typing import Any

from flask import Blueprint, Response, current_app, request, url_for

from receiver.inspector import query as query_mod
from receiver.inspector.detail import capture_detail, log
from receiver.inspector.pages import listing, runtime
from receiver.inspector.rows import row
from receiver.store.files import DataFileError
from receiver.store.paging import PAGE_BYTES, arrivals, body_size
from receiver.store.safetext import json_text
from receiver.store.select import BadCaptureId, UnknownCaptureError, capture_reader, normal_id

bp = Blueprint("api", __name__, url_prefix="/api")


def as_json(value: Any, code: int = 200) -> Response:
    """Return ``value`` as a JSON response."""
    return Response(json_text(value) + "\n", code, mimetype="application/json")


def poll(query: query_mod.Query) -> dict[str, Any]:
    """Return the captures newer than ``query.after`` and the ``after`` of the next poll."""
    assert query.after is not None
    settings = current_app.config["SETTINGS"]
    items, newest = arrivals(
        settings.data_dir,
        query.filters,
        capture_reader(log.warning),
        query.after,
        query.size,
        budget=settings.inspect_scan_seconds,
        warn=log.warning,
    )
    after = newest or (query.after.token() if hasattr(query.after, "token") else request.args.get("after"))
    return {
        "captures": [row(record, analysis) for record, analysis in items],
        "after": after,
        "more": len(items) >= query.size or sum(body_size(record) for record, _ in items) >= PAGE_BYTES,
    }


@bp.route("/captures")
def captures() -> Response:
    """List the matching captures, newest first, one page (or, with ``after``, the new ones)."""
    try:
        query = query_mod.parse(request.args)
    except query_mod.QueryError as exc:
        return as_json({"error": str(exc)}, 400)
    try:
        if query.after is not None:
            return as_json(poll(query))
        found = listing(query)
    except DataFileError as exc:
        return as_json({"error": str(exc)}, 500)
    return as_json(
        {
            "captures": found["rows"],
            "next": found["older_api"],
            "before": found["before"],
            "complete": found["complete"],
            "scanned": found["scanned"],
            "reached": found["reached"],
        }
    )


@bp.route("/captures/<capture_id>")
def capture(capture_id: str) -> Response:
    """Return everything about one capture."""
    try:
        detail = capture_detail(
            current_app.config["SETTINGS"], runtime().redis, normal_id(capture_id), current_app.config["MASK"]
        )
    except (BadCaptureId, UnknownCaptureError) as exc:
        return as_json({"error": str(exc)}, 404)
    return as_json({**detail.api(), "url": url_for("pages.capture", capture_id=detail.record["id"])})
