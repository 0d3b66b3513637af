"""The sinks' gauges of a scrape: each sink's breaker and pause, and the deliveries waiting their turn.

Failure policy: Redis errors propagate to the collector, which leaves this part
out of the scrape and logs it; without a routes file there is nothing to report.
"""

import redis
from prometheus_client.core import GaugeMetricFamily

from receiver.core import keys
from receiver.core.settings import Settings
from receiver.metrics import names
from receiver.routes import sinkstate
from receiver.routes import status as routing_status


def families(settings: Settings, connection: redis.Redis) -> list[GaugeMetricFamily]:
    """Return the breaker and pause gauges per sink, and the waiting deliveries (none without routes)."""
    routes = routing_status.routes_of(settings, connection)
    if routes is None:
        return []
    breakers = GaugeMetricFamily(names.SINK_BREAKER_OPEN, names.SINK_BREAKER_OPEN_HELP, labels=["sink"])
    paused = GaugeMetricFamily(names.SINK_PAUSED, names.SINK_PAUSED_HELP, labels=["sink"])
    for sink, state in sinkstate.states(connection, settings.queue, sorted(routes.sinks)).items():
        breakers.add_metric([sink], 1 if state["breaker"]["open"] else 0)
        paused.add_metric([sink], 1 if state["paused"] else 0)
    waiting = GaugeMetricFamily(names.DELIVERIES_WAITING, names.DELIVERIES_WAITING_HELP)
    waiting.add_metric([], int(connection.zcard(keys.waiting_deliveries(settings.queue))))
    return [breakers, paused, waiting]
