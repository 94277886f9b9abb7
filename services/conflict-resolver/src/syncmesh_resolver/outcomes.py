"""Sync's answers to the mutations this resolver process issues.

Each process owns a results subject (``sm.results.resolver-<instance_id>``, core NATS) and
names it as ``reply_to`` in the intake messages it publishes; sync publishes the
:class:`MutationOutcome` there. Callers register interest before publishing, then wait.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from pydantic import ValidationError

from syncmesh_schema.sync import MutationOutcome

log = logging.getLogger(__name__)

Key = tuple[str, int]


class Outcomes:
    """Futures for ``(client_id, mutation_id)`` keys, completed by the results subscription."""

    def __init__(self, nc: Client, subject: str) -> None:
        self.nc = nc
        self.subject = subject
        self._waiters: dict[Key, list[asyncio.Future[MutationOutcome]]] = {}
        self._sub: Any = None

    async def start(self) -> None:
        self._sub = await self.nc.subscribe(self.subject, cb=self._on_msg)

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None
        for waiters in self._waiters.values():
            for waiter in waiters:
                waiter.cancel()
        self._waiters.clear()

    def expect(self, key: Key) -> asyncio.Future[MutationOutcome]:
        """A future for the next outcome of ``key``; call before publishing the mutation."""
        waiter: asyncio.Future[MutationOutcome] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(key, []).append(waiter)
        return waiter

    def forget(self, key: Key, waiter: asyncio.Future[MutationOutcome]) -> None:
        waiters = self._waiters.get(key, [])
        if waiter in waiters:
            waiters.remove(waiter)
        if not waiters:
            self._waiters.pop(key, None)

    async def _on_msg(self, msg: Msg) -> None:
        try:
            outcome = MutationOutcome.model_validate_json(msg.data)
        except ValidationError:
            log.warning("ignoring a malformed outcome on %s", msg.subject)
            return
        for waiter in self._waiters.pop((outcome.client_id, outcome.mutation_id), []):
            if not waiter.done():
                waiter.set_result(outcome)
