"""``GET /admin/streams``: the JetStream streams and buckets of the stack, with their counts
and consumers (the same view on every service's admin API)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from nats.js.errors import NotFoundError

from .jetstream import topology
from .runtime import ServiceRuntime


def streams_routes() -> APIRouter:
    router = APIRouter()

    @router.get("/streams", summary="JetStream streams: messages, bytes, sequences, consumers")
    async def streams(request: Request) -> list[dict[str, Any]]:
        runtime: ServiceRuntime = request.state.runtime
        if not runtime.ready:
            raise HTTPException(
                503, detail={"code": "unavailable", "message": "not connected to NATS yet"}
            )
        out = []
        for config in topology(runtime.settings.nats.replicas):
            assert config.name
            try:
                info = await runtime.js.stream_info(config.name)
            except NotFoundError:
                out.append({"name": config.name, "exists": False})
                continue
            st = info.state
            out.append(
                {
                    "name": config.name,
                    "exists": True,
                    "subjects": info.config.subjects,
                    "messages": st.messages,
                    "bytes": st.bytes,
                    "first_seq": st.first_seq,
                    "last_seq": st.last_seq,
                    "consumers": st.consumer_count,
                }
            )
        return out

    return router
