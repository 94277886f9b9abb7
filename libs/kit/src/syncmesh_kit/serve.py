"""Run a service's ASGI app with uvicorn (called from each ``__main__``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError

from .logging import configure_logging
from .settings import DEV_JWT_SECRET, ServiceSettings

S = TypeVar("S", bound=ServiceSettings)


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    """Serve until SIGINT/SIGTERM; the app's lifespan does the clean shutdown."""
    uvicorn.run(
        app,
        host=settings.http.host,
        port=settings.http.port,
        log_config=None,  # keep the logging configured by syncmesh_kit.logging
        lifespan="on",
        timeout_graceful_shutdown=15,
        proxy_headers=False,
    )


def load_settings(settings_cls: type[S]) -> S:
    """Settings from the environment, logging configured once, a warning for the dev secret;
    a clear exit (not a traceback) when the configuration is invalid."""
    try:
        settings = settings_cls()
    except ValidationError as exc:
        raise SystemExit(f"invalid {settings_cls.service_name} configuration:\n{exc}") from None
    configure_logging(settings.log, settings_cls.service_name)
    if settings.uses_dev_secret:
        logging.getLogger(settings_cls.service_name).warning(
            "using the development JWT secret %r: set SYNCMESH_JWT_SECRET for anything but local "
            "development (production refuses to start with it)",
            DEV_JWT_SECRET,
        )
    return settings


def run_service(settings_cls: type[ServiceSettings], create_app: Callable[[Any], FastAPI]) -> None:
    """The whole of a service's ``main()``: settings from the environment, logging, serve."""
    settings = load_settings(settings_cls)
    serve(create_app(settings), settings)
