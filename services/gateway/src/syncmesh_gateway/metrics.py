"""Prometheus metrics of the gateway (on the runtime's registry, served at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.connections = Gauge(
            "syncmesh_gateway_connections",
            "Open client connections",
            ["transport"],
            registry=registry,
        )
        self.frames_in = Counter(
            "syncmesh_gateway_frames_received_total",
            "Client frames received",
            ["type"],
            registry=registry,
        )
        self.delivered = Counter(
            "syncmesh_gateway_messages_delivered_total",
            "Server frames written to clients (events, replies)",
            ["transport"],
            registry=registry,
        )
        self.bytes_out = Counter(
            "syncmesh_gateway_bytes_sent_total",
            "Bytes of server frames written",
            ["transport"],
            registry=registry,
        )
        self.disconnects = Counter(
            "syncmesh_gateway_disconnects_total",
            "Connections closed by the server, by close code",
            ["code"],
            registry=registry,
        )
        self.drops = Counter(
            "syncmesh_gateway_drops_total",
            "Frames refused or dropped (too_large, rate_limited, slow_consumer, …)",
            ["reason"],
            registry=registry,
        )
        self.auth_failures = Counter(
            "syncmesh_gateway_auth_failures_total", "Refused tokens", registry=registry
        )
        self.resyncs = Counter(
            "syncmesh_gateway_resyncs_total",
            "resync frames sent (continuity lost)",
            registry=registry,
        )
        self.gap_refills = Counter(
            "syncmesh_gateway_gap_refills_total",
            "Live gaps filled from the stream",
            registry=registry,
        )
        self.subscriptions = Gauge(
            "syncmesh_gateway_channels",
            "Channels with a live NATS subscription in this process",
            registry=registry,
        )
