"""What ``routes check`` and ``routes test`` report: each sink, secrets hidden; what the routes make of a capture.

``routes test`` reads a capture as the worker does and asks the worker's own
planner (``jobs.routing.plan``, passed in by the caller: nothing under
``receiver`` imports ``jobs``) what each of its events would start: deliveries
now, checks later, follow-ups cancelled. Nothing is sent anywhere.

Failure policy: an id in no capture file raises ``UnknownCaptureError`` and an
unreadable file ``DataFileError`` (both from ``receiver.store``); nothing is
printed here.
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from receiver.routes.config import Route, Routes, Sink
from receiver.routes.redact import redact, url_secrets
from receiver.store.reading import Reading
from receiver.store.select import capture_reader, find_capture

NO_ROUTE = "no route: the events file only"


class PlanView(Protocol):
    """What a plan of the worker's says of one event: deliveries now, checks later, arrivals to note."""

    @property
    def deliveries(self) -> Mapping[tuple[str, str], Sequence[Mapping[str, Any]]]:
        """``(queue, sink)`` -> the events it gets, each carrying the ``route`` that sends it."""
        ...

    @property
    def checks(self) -> Sequence[tuple[Route, Any]]:
        """The delayed routes whose ``when`` matched, with the event."""
        ...

    @property
    def arrivals(self) -> Sequence[tuple[Route, Any, Any]]:
        """The delayed routes whose ``unless`` matched: ``(route, key value, event)``."""
        ...


Planner = Callable[[Routes, list[dict[str, Any]]], PlanView]


def sink_text(sink: Sink) -> str:
    """Return one line about ``sink``: its name, type and URL, with no password or query value in clear."""
    url = sink.options.get("url")
    shown = f" {redact(str(url), url_secrets(url))}" if url is not None else ""
    limits = f" ({sink.limits.describe()})" if sink.limits.describe() else ""
    return f"sink {sink.name}: {sink.type}{shown}{limits}"


def plan_text(planned: PlanView) -> str:
    """Return what a plan does, on one line: each delivery, check and cancelled follow-up."""
    now = [f"{sink} on {queue} (route {batch[0]['route']})" for (queue, sink), batch in planned.deliveries.items()]
    later = [f"check of route {route.name} after {route.after:g}s" for route, _ in planned.checks]
    cancels = [f"follow-up for route {route.name} ({route.key}={value})" for route, value, _ in planned.arrivals]
    return "; ".join(now + later + cancels) or NO_ROUTE


def capture_events(data_dir: str, capture_id: str) -> Reading:
    """Return the worker's reading of capture ``capture_id`` (a normalised id) of the data dir."""
    return Reading(find_capture(data_dir, capture_id, capture_reader()))


def trial_lines(analysis: Reading, capture_id: str, routes: Routes, planner: Planner) -> Iterator[str]:
    """Yield one line per event of the capture saying what ``routes`` make of it, or why there is no event."""
    if analysis.reason:
        yield f"capture {capture_id} is rejected ({analysis.reason}): no event to route"
        return
    for event in analysis.events:
        yield f"event {event['event_id']} ({event.get('webhook_name')}): {plan_text(planner(routes, [event]))}"
