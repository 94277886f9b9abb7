"""The FastAPI shell every service shares: lifespan, health, metrics and ``/admin/info``.

A service's ``create_app`` calls :func:`service_app` and then includes its own admin routes
(``app.include_router(admin.router, prefix="/admin", dependencies=[...])``), so the pieces
stay visible in each ``app.py``.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI

from .health import health_router
from .info import info_routes
from .runtime import ServiceRuntime


def service_app(runtime: ServiceRuntime, *, title: str, description: str) -> FastAPI:
    app = FastAPI(
        title=title, description=description, version=runtime.version, lifespan=runtime.lifespan
    )
    app.include_router(health_router(runtime.readiness, runtime.registry))
    app.include_router(
        info_routes(), prefix="/admin", dependencies=[Depends(runtime.require_admin)]
    )
    return app
