"""The live parts of the sync service, started and stopped by the runtime's hooks."""

from __future__ import annotations

from syncmesh_kit.runtime import ServiceRuntime

from .intake import Intake, IntakeConfig
from .pipeline import Pipeline, PipelineConfig
from .settings import SyncSettings
from .stats import Stats
from .store import Store


class SyncService:
    """Store + pipeline + intake of one process."""

    def __init__(self, settings: SyncSettings, runtime: ServiceRuntime) -> None:
        self.settings = settings
        self.stats = Stats(runtime.registry)
        self.store: Store | None = None
        self.intake: Intake | None = None
        runtime.on_start.append(self.start)
        runtime.on_stop.append(self.stop)

    async def start(self, runtime: ServiceRuntime) -> None:
        st = self.settings
        self.store = await Store.open(
            runtime.nc, runtime.js, cache_size=st.cache_size, result_ttl_s=st.result_ttl_s
        )
        pipeline = Pipeline(
            self.store,
            runtime.nc,
            self.stats,
            PipelineConfig(
                cas_retries=st.cas_retries,
                results_kept=st.results_kept,
                resolver_timeout_s=st.resolver_timeout_s,
            ),
        )
        self.intake = Intake(
            runtime.nc,
            runtime.js,
            pipeline,
            self.stats,
            IntakeConfig(
                max_in_flight=st.max_in_flight,
                fetch_batch=st.fetch_batch,
                max_deliver=st.max_deliver,
                ahead_deliveries=st.ahead_deliveries,
                ahead_wait_s=st.ahead_wait_s,
            ),
        )
        await self.intake.start()

    async def stop(self, runtime: ServiceRuntime) -> None:
        if self.intake:
            await self.intake.stop()
        if self.store:
            await self.store.close()
