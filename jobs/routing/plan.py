"""Decide what the routes make of a capture's events: deliveries now, checks later, arrivals to note.

Every matching route fires. An event goes at most once to a sink (the first
matching route names it, on the highest priority any of them asks for), so
one event never calls a sink twice. Events that match no route go only to the
events file. Pure: nothing here touches Redis or a sink.
"""

from dataclasses import dataclass, field
from typing import Any

from receiver.core.keys import PRIORITIES
from receiver.routes.config import Route, Routes
from receiver.routes.match import key_value

PRIORITY = {name: rank for rank, name in enumerate(PRIORITIES)}  # high first


@dataclass
class Plan:
    """What to do for one capture's events."""

    # (queue, sink) -> events, each carrying the "route" that sends it
    deliveries: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    checks: list[tuple[Route, dict[str, Any]]] = field(default_factory=list)  # delayed routes whose when matched
    arrivals: list[tuple[Route, Any, dict[str, Any]]] = field(default_factory=list)  # (route, key value, event)


def plan(routes: Routes, events: list[dict[str, Any]]) -> Plan:
    """Return the deliveries, checks and arrivals of ``events`` under ``routes``."""
    result = Plan()
    for event in events:
        chosen: dict[str, tuple[str, str]] = {}  # sink -> (queue, route)
        for route in routes.routes:
            if route.after is None:
                if route.when(event):
                    for sink in route.to:
                        if sink not in chosen or PRIORITY[route.queue] < PRIORITY[chosen[sink][0]]:
                            chosen[sink] = (route.queue, chosen.get(sink, (route.queue, route.name))[1])
                continue
            if route.when(event):
                result.checks.append((route, event))
            if route.unless is not None and route.unless(event):
                value = key_value(event, route.key)
                if value is not None:
                    result.arrivals.append((route, value, event))
        for sink, (queue, route_name) in chosen.items():
            result.deliveries.setdefault((queue, sink), []).append({**event, "route": route_name})
    return result
