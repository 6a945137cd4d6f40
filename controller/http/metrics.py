"""``GET /metrics``: Prometheus text, read from the runtime at scrape time.

One ``CollectorRegistry`` per app, never prometheus_client's global one, so that several apps
(one per test) live in one process. A custom collector reads the runtime when scraped instead
of keeping gauges up to date from every code path: nothing can be forgotten or go stale.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from controller.http.auth import Viewer
from controller.platform.alarms import SEVERITIES
from controller.radio.airlog import OUTCOMES
from controller.runtime import Runtime

PREFIX = "communectl"
LATENESS_QUANTILES = (0.5, 0.9, 0.99)
MODBUS_LATENCY_QUANTILES = (0.5, 0.99)

router = APIRouter(tags=["status"])


class RuntimeCollector(Collector):
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def collect(self) -> Iterator[Metric]:
        yield from self._devices()
        yield from self._buses()
        yield from self._circuits()
        yield from self._alarms()
        yield self._lateness()
        yield from self._storage()
        yield from self._radio()
        yield from self._front()
        yield from self._notify()

    def _notify(self) -> Iterator[Metric]:
        service = self._runtime.notify
        if service is None:
            return
        channels = sorted(service.channels)
        for name, counts, what in (("sent", service.sent_total, "sent"),
                                   ("failed", service.failed_total, "not sent (each attempt)")):
            family = CounterMetricFamily(f"{PREFIX}_notify_{name}",
                                         f"Notifications {what}, by channel",
                                         labels=["channel"])
            for channel in sorted({*channels, *counts}):
                family.add_metric([channel], counts.get(channel, 0))
            yield family
        yield GaugeMetricFamily(f"{PREFIX}_notify_queued",
                                "Notifications in the outbox, waiting to be sent or retried",
                                value=service.queued)

    def _front(self) -> Iterator[Metric]:
        front = self._runtime.front
        if front is None:  # api.front_process = false, or not started by run_controller
            return
        restarts = CounterMetricFamily(f"{PREFIX}_api_front_restarts",
                                       "Times the HTTP front process was started again")
        restarts.add_metric([], front.restarts)
        yield restarts

    def _radio(self) -> Iterator[Metric]:
        radio = self._runtime.radio_service
        outcomes = CounterMetricFamily(f"{PREFIX}_broadcasts",
                                       "Broadcast items ended since start, by outcome",
                                       labels=["outcome"])
        counts = radio.outcome_counts()
        for outcome in OUTCOMES:
            outcomes.add_metric([outcome], counts.get(outcome, 0))
        yield outcomes
        on_air = GaugeMetricFamily(f"{PREFIX}_broadcast_on_air", "1 while an item plays")
        playing = radio.now_playing()
        on_air.add_metric([], 1 if playing is not None and playing.on_air else 0)
        yield on_air
        zones = GaugeMetricFamily(f"{PREFIX}_zone_on", "Loudspeaker zone relays on",
                                  labels=["zone"])
        zones_on = radio.zones_on()
        for zone in self._runtime.config.zones:
            zones.add_metric([zone.id], 1 if zone.id in zones_on else 0)
        yield zones
        # Histogram buckets as Prometheus exposes them: cumulative, "le" in seconds, +Inf last.
        histogram = radio.start_offsets()
        start = HistogramMetricFamily(
            f"{PREFIX}_broadcast_start_offset_seconds",
            "First sample of an item less the earliest second it could sound: its scheduled "
            "second, or for an item known too late for the amplifier warm-up (an announcement "
            "now), the end of that warm-up",
            buckets=[(_le(bound), count) for bound, count in histogram.cumulative()],
            sum_value=histogram.total)
        yield start

    def _devices(self) -> Iterator[Metric]:
        health = self._runtime.devices.health
        up = GaugeMetricFamily(f"{PREFIX}_device_up",
                               "1 if the device answered last time, else 0 (also before the "
                               "first answer)", labels=["device"])
        failures = CounterMetricFamily(f"{PREFIX}_device_failures",
                                       "Device transactions that failed", labels=["device"])
        for device_id, state in sorted(health.items()):
            up.add_metric([device_id], 1.0 if state.online else 0.0)
            failures.add_metric([device_id], state.failures)
        yield up
        yield failures

    def _buses(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(f"{PREFIX}_modbus_requests",
                                       "Modbus frames sent, retries included", labels=["bus"])
        failures = CounterMetricFamily(f"{PREFIX}_modbus_failures",
                                       "Modbus transactions that ended in an error",
                                       labels=["bus"])
        # A summary: quantiles over the latest frames of a bus, _count and _sum over every
        # answered frame since start.
        latency_name = f"{PREFIX}_modbus_latency_seconds"
        latency = Metric(latency_name, "Request to reply of answered Modbus frames, by bus",
                         "summary")
        for bus_id, bus in sorted(self._runtime.devices.buses.items()):
            requests.add_metric([bus_id], bus.stats.requests)
            failures.add_metric([bus_id], bus.stats.failures)
            recent = sorted(bus.stats.recent_latencies_s)
            for q in MODBUS_LATENCY_QUANTILES if recent else ():
                latency.add_sample(latency_name, {"bus": bus_id, "quantile": str(q)},
                                   nearest_rank(recent, q))
            latency.add_sample(f"{latency_name}_count", {"bus": bus_id}, bus.stats.latency_count)
            latency.add_sample(f"{latency_name}_sum", {"bus": bus_id}, bus.stats.latency_sum_s)
        yield requests
        yield failures
        yield latency
        yield from self._mqtt()

    def _mqtt(self) -> Iterator[Metric]:
        bridge = self._runtime.bridge
        if bridge is None:
            return
        stats = bridge.stats
        yield GaugeMetricFamily(f"{PREFIX}_mqtt_connected", "1 while the broker is connected",
                                value=1 if stats.connected else 0)
        yield CounterMetricFamily(f"{PREFIX}_mqtt_connects", "Connections made to the broker",
                                  value=stats.connects)
        malformed = CounterMetricFamily(f"{PREFIX}_mqtt_malformed",
                                        "Payloads ignored, by kind", labels=["kind"])
        for kind, count in sorted(stats.malformed.items()):
            malformed.add_metric([kind], count)
        yield malformed
        rejected = CounterMetricFamily(
            f"{PREFIX}_mqtt_rejected", "Incoming messages ignored: oversized, malformed, on an "
            "unknown topic, or above a source's rate", labels=["reason"])
        for reason in ("oversized", "malformed", "unknown_topic", "rate_limited"):
            rejected.add_metric([reason], stats.rejected[reason])
        yield rejected
        yield GaugeMetricFamily(f"{PREFIX}_nodes_online", "Field nodes online",
                                value=sum(n["status"] == "online" for n in bridge.nodes.as_json()))

    def _circuits(self) -> Iterator[Metric]:
        names = ("desired", "commanded", "actual")
        families = {n: GaugeMetricFamily(f"{PREFIX}_circuit_{n}_level",
                                         f"Circuit level 0-100, {n}", labels=["circuit"])
                    for n in names}
        figures = self._runtime.lighting_service.figures()
        for circuit_id, record in sorted(figures.records.items()):
            levels = (record.desired.level if record.desired else None,
                      record.commanded_level, record.actual_level)
            for name, level in zip(names, levels, strict=True):
                if level is not None:  # unknown is absent, not 0: 0 means off
                    families[name].add_metric([circuit_id], level)
        yield from families.values()
        yield CounterMetricFamily(f"{PREFIX}_lighting_reconciles",
                                  "Reconcile passes of the lighting coordinator",
                                  value=figures.reconciles)
        drift = CounterMetricFamily(
            f"{PREFIX}_relay_drift",
            "Output channels found changed behind the controller's back and set again "
            "(relay_drift events)", labels=["device", "circuit", "reason"])
        for (device_id, circuit_id, reason), count in sorted(figures.drifts.items()):
            drift.add_metric([device_id, circuit_id, reason], count)
        yield drift

    def _alarms(self) -> Iterator[Metric]:
        open_alarms = GaugeMetricFamily(f"{PREFIX}_alarms_open", "Open alarms by severity",
                                        labels=["severity"])
        records = self._runtime.alarms.open_alarms()
        for severity in SEVERITIES:
            open_alarms.add_metric([severity],
                                   sum(r.get("severity") == severity for r in records))
        yield open_alarms

    def _lateness(self) -> Metric:
        # Quantiles over the latest transitions kept in memory; _count and _sum over all of
        # them since start, so that rate() works in Prometheus.
        name = f"{PREFIX}_lighting_transition_lateness_seconds"
        summary = Metric(name, "How late lighting transitions were written", "summary")
        lighting = self._runtime.lighting_service.figures()
        values = sorted(lighting.lateness_s)
        for q in LATENESS_QUANTILES if values else ():
            summary.add_sample(name, {"quantile": str(q)}, nearest_rank(values, q))
        summary.add_sample(f"{name}_count", {}, lighting.lateness_count)
        summary.add_sample(f"{name}_sum", {}, lighting.lateness_sum_s)
        return summary

    def _storage(self) -> Iterator[Metric]:
        written = CounterMetricFamily(f"{PREFIX}_history_bytes_written",
                                      "Bytes appended to history since start (SD card wear)",
                                      labels=["kind"])
        for kind, history in (("events", self._runtime.events), ("audit", self._runtime.audit)):
            written.add_metric([kind], history.bytes_written)
        written.add_metric(["broadcasts"], self._runtime.radio_service.log_bytes_written())
        yield written
        state = self._runtime.store.storage
        yield CounterMetricFamily(f"{PREFIX}_store_bytes_written",
                                  "Bytes of state.json rewritten since start (SD card wear)",
                                  value=state.bytes_written)
        yield CounterMetricFamily(f"{PREFIX}_store_writes", "Atomic rewrites of state.json",
                                  value=state.writes)
        yield CounterMetricFamily(f"{PREFIX}_store_write_seconds",
                                  "Time spent writing state.json (with fsync)",
                                  value=state.write_seconds)


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(bound)


def nearest_rank(ordered: Sequence[float], q: float) -> float:
    return ordered[max(math.ceil(q * len(ordered)) - 1, 0)]


def metrics_registry(runtime: Runtime) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RuntimeCollector(runtime))
    ProcessCollector(registry=registry)  # memory and CPU of the gateway process
    return registry


@router.get("/metrics", summary="Prometheus metrics (text format)",
            response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
async def metrics(request: Request, caller: Viewer) -> Response:
    registry: CollectorRegistry = request.app.state.metrics
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
