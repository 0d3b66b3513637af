"""The inspector's HTML pages: the list of captures, one capture, its raw bytes; and ``/healthz``.

Everything is rendered on the server, so both pages work with JavaScript
off; the page script only adds live rows and copy buttons.
"""

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, render_template, request, url_for

from receiver.capture.record import utc_ms
from receiver.inspector import query as query_mod
from receiver.inspector.detail import capture_detail, log
from receiver.inspector.replaycmd import raw_file_name
from receiver.inspector.rows import row
from receiver.store.files import DataFileError
from receiver.store.paging import newest_page
from receiver.store.select import CAPTURE_ID, BadCaptureId, Pair, UnknownCaptureError, capture_reader, normal_id

bp = Blueprint("pages", __name__)


def runtime() -> Any:
    """Return this process's live objects (``app.InspectorRuntime``)."""
    return current_app.extensions["smartech_dumper_inspector"]


@bp.route("/healthz", methods=["GET", "HEAD"])
def healthz() -> Response:
    """Answer liveness probes; open to all, it says nothing."""
    return Response("ok\n", mimetype="text/plain")


def listing(query: query_mod.Query) -> dict[str, Any]:
    """Return the page of captures ``query`` asks for, as rows, with its links."""
    settings = current_app.config["SETTINGS"]
    page = newest_page(
        settings.data_dir,
        query.filters,
        capture_reader(log.warning),
        query.size,
        query.before,
        query.skip,
        budget=settings.inspect_scan_seconds,
        warn=log.warning,
    )
    args = query.filter_args()
    before = page.next.token() if page.next else None
    return {
        "rows": [row(record, analysis) for record, analysis in page.items],
        "before": before,
        "older": link("pages.index", args, before=before) if before else None,
        "older_api": link("api.captures", args, before=before) if before else None,
        "complete": page.complete,
        "scanned": page.scanned,
        "reached": page.reached,
        "newest": link("pages.index", args),
        "poll": link("api.captures", args),
        "first_page": query.before is None and query.skip == 0,
        "live_after": live_after(page.items),
    }


def live_after(items: list[Pair]) -> str:
    """Return where live updates start: the newest capture shown, or now when it shows none (or a forged id)."""
    if items and CAPTURE_ID.match(str(items[0][0]["id"])):
        return str(items[0][0]["id"])
    return utc_ms(datetime.now(UTC))


def link(endpoint: str, args: dict[str, list[str]], **extra: str) -> str:
    """Return the URL of ``endpoint`` with the filter ``args`` and ``extra`` parameters."""
    pairs = [(name, value) for name, values in args.items() for value in values] + list(extra.items())
    return url_for(endpoint) + ("?" + urlencode(pairs) if pairs else "")


@bp.route("/")
def index() -> tuple[str, int]:
    """List the captures that match the filters, newest first, one page."""
    try:
        query = query_mod.parse(request.args)
    except query_mod.QueryError as exc:
        return render_template("list.html", error=str(exc), form=request.args, rows=[], first_page=False), 400
    try:
        found = listing(query)
    except DataFileError as exc:
        return render_template("list.html", error=str(exc), form=request.args, rows=[], first_page=False), 500
    return render_template("list.html", error=None, form=request.args, query=query, **found), 200


@bp.route("/captures/<capture_id>")
def capture(capture_id: str) -> tuple[str, int]:
    """Show one capture: body, form, payload, events, status, where it went, and how to replay it."""
    try:
        detail = capture_detail(
            current_app.config["SETTINGS"], runtime().redis, normal_id(capture_id), current_app.config["MASK"]
        )
    except (BadCaptureId, UnknownCaptureError) as exc:
        return render_template("missing.html", error=str(exc)), 404
    return render_template("detail.html", d=detail, raw_name=raw_file_name(detail.record)), 200


@bp.route("/captures/<capture_id>/raw")
def raw(capture_id: str) -> Response:
    """Send the capture's body, byte for byte, as a download."""
    try:
        detail = capture_detail(
            current_app.config["SETTINGS"], runtime().redis, normal_id(capture_id), current_app.config["MASK"]
        )
    except (BadCaptureId, UnknownCaptureError) as exc:
        return Response(f"{exc}\n", 404, mimetype="text/plain")
    if detail.body.raw is None:
        return Response(f"cannot decode the stored body: {detail.body.error}\n", 500, mimetype="text/plain")
    response = Response(detail.body.raw, mimetype="application/octet-stream")
    response.headers["Content-Disposition"] = f'attachment; filename="{raw_file_name(detail.record)}"'
    return response
