"""The inspector's customer timeline: ``/customers/<id>`` (HTML) and ``/api/customers/<id>`` (JSON).

Every event of one customer across the retention window, newest first, with
channel, activity, journey and where it was routed (``receiver.ops.timelines``).
The list's rows link here by ``k:<keyed hash>`` of the customer's id, so no
page and no URL holds the id itself; a typed id works too. The id is shown
masked unless ``DUMPER_INSPECT_UNMASK=true``.
"""

import sqlite3

from flask import Blueprint, Response, current_app, render_template, request, url_for

from receiver.inspector.api import as_json
from receiver.inspector.pages import runtime
from receiver.ops.timelines import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, TimelinePage, customer_page

bp = Blueprint("customers", __name__)


def page_of(customer: str) -> TimelinePage:
    """Return the page of ``customer``'s timeline the request asks for (``size``, ``before``)."""
    size = request.args.get("size", type=int) or DEFAULT_PAGE_SIZE
    settings = current_app.config["SETTINGS"]
    before = request.args.get("before")
    return customer_page(
        settings, runtime().redis, customer, min(size, MAX_PAGE_SIZE), before, current_app.config["MASK"]
    )


@bp.route("/customers/<customer>")
def page(customer: str) -> tuple[str, int]:
    """Show one customer's events, newest first, one page."""
    try:
        found = page_of(customer)
    except (OSError, sqlite3.Error) as exc:
        return render_template("missing.html", error=f"cannot read the timeline: {exc}"), 500
    older = url_for("customers.page", customer=customer, before=found.next) if found.next else None
    return render_template("customer.html", page=found, older=older), 200


@bp.route("/api/customers/<customer>")
def api(customer: str) -> Response:
    """Return one page of a customer's events as JSON, and the ``before`` of the next."""
    try:
        found = page_of(customer)
    except (OSError, sqlite3.Error) as exc:
        return as_json({"error": str(exc)}, 500)
    return as_json({"customer": found.customer, "events": found.events, "next": found.next})
