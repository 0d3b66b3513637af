"""The inspector's Undelivered page: the events routed to a sink and not delivered yet, and each sink's state.

The same selection as ``smartech-dumper undelivered`` (``receiver.routes.undelivered``),
with its filters (sink, since, state), and above it each sink's pause and
breaker, so an open breaker or a pause shows at a glance. Read-only: it sends
nothing again (``undelivered --retry`` does).

Failure policy: a bad filter answers 400 with the reason; Redis away or no
routes file is said on the page (503 and 200), never a traceback.
"""

from typing import Any

from flask import Blueprint, current_app, render_template, request

from receiver.core.queues import REDIS_ERRORS
from receiver.routes import sinkstate, undelivered
from receiver.routes.status import routes_of
from receiver.store.timeexpr import TimeExprError, parse_time

bp = Blueprint("waitlist", __name__)
MAX_ROWS = 500  # events shown; `smartech-dumper undelivered` lists them all


def page(status: int, **values: Any) -> tuple[str, int]:
    """Render the page with ``values`` (defaults for what is not given)."""
    defaults: dict[str, Any] = {"error": None, "sinks": {}, "rows": [], "more": 0, "states": undelivered.STATES}
    return render_template("undelivered.html", form=request.args, **{**defaults, **values}), status


@bp.route("/undelivered")
def undelivered_page() -> tuple[str, int]:
    """List the undelivered events that match the filters, with each sink's pause and breaker."""
    settings = current_app.config["SETTINGS"]
    connection = current_app.extensions["smartech_dumper_inspector"].redis
    sink = request.args.get("sink") or None
    state = request.args.get("state") or None
    try:
        since = parse_time(request.args["since"]) if request.args.get("since") else None
    except TimeExprError as exc:
        return page(400, error=f"since: {exc}")
    if state is not None and state not in undelivered.STATES:
        return page(400, error=f"state: expected one of {', '.join(undelivered.STATES)}")
    try:
        routes = routes_of(settings, connection)
        if routes is None:
            return page(200, error="no routes file (DUMPER_ROUTES): nothing is routed to a sink")
        if sink is not None and sink not in routes.sinks:
            return page(400, error=f"sink: no sink {sink!r} in the routes file")
        sinks = sinkstate.states(connection, settings.queue, sorted(routes.sinks))
        found = undelivered.select(settings, connection, sink, since, (state,) if state else undelivered.STATES)
        rows = list(undelivered.rows(found))
    except REDIS_ERRORS:
        return page(503, error="Redis does not answer: the deliveries cannot be read now")
    return page(200, sinks=sinks, rows=rows[:MAX_ROWS], more=max(0, len(rows) - MAX_ROWS))
