"""Fixtures of the notification service's real-NATS tests: the app in process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from syncmesh_kit.auth import issue_token
from syncmesh_kit.settings import DEV_JWT_SECRET
from syncmesh_kit.testing import running_app
from syncmesh_notification.app import create_app
from syncmesh_notification.settings import NotificationSettings

ADMIN = {"Authorization": f"Bearer {issue_token(DEV_JWT_SECRET, 'ops', 3600, admin=True)}"}


def bearer(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(DEV_JWT_SECRET, user, 3600)}"}


@pytest.fixture(scope="module")
def app(nats_module) -> Iterator[TestClient]:
    # A short JetStream dedup window, so the KV dedup is what a late resend meets.
    settings = NotificationSettings(
        nats={"url": nats_module.url, "dedup_window_s": 0.5}, admin_token="static-admin-token"
    )
    with running_app(create_app(settings)) as client:
        yield client
