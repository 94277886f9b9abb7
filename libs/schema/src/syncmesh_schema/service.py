"""What every service says about itself (``/admin/info`` and ``sm.svc.info.<service>``)."""

from __future__ import annotations

from .base import WireModel


class ServiceInfo(WireModel):
    service: str
    instance: str
    version: str
    started_at: int
    uptime_s: float
    consumes: list[str]
    publishes: list[str]
    admin_url: str | None = None
