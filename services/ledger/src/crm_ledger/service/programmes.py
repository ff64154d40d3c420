"""Reward programmes as data: created and changed over HTTP, each change a new version that
applies to orders placed from then on (domain.programmes). The environment settings are the
programme `default` until it is changed.

Orders read the programmes often and they change rarely, so the versions are kept in memory
and reloaded by a periodic job every `cache_seconds` (a change made through another replica is
seen within that time; the replica that made it sees it at once). Events are thus handled
without reading the collection (only before the first load). A version is never edited, so a
cached one is never wrong, only possibly not the newest."""

import asyncio
from datetime import datetime
from typing import Any
from uuid import uuid4

from crm_ledger.domain import Program
from crm_ledger.domain.programmes import DEFAULT_ID, check, current, in_effect, next_version
from crm_ledger.store import ProgrammeStore
from crm_servicekit.clock import now_ms
from crm_servicekit.errors import Busy, NotFound


class Programmes:
    def __init__(self, store: ProgrammeStore, default: Program, cache_seconds: float = 2.0) -> None:
        self.store = store
        self.default = default  # version 0 of `default`: the environment settings
        self.cache_seconds = cache_seconds
        self._cached: list[Program] | None = None

    async def refresh(self) -> None:
        """The periodic reload (every `cache_seconds`)."""
        await self.versions(fresh=True)

    async def versions(self, fresh: bool = False) -> list[Program]:
        if fresh or self._cached is None:
            self._cached = [self.default, *(Program.from_doc(d) for d in await self.store.all())]
        return self._cached

    async def at(self, t: datetime) -> Program | None:
        """The programme an order placed at `t` earns by (None: no programme then)."""
        return in_effect(await self.versions(), t)

    async def in_effect_now(self) -> Program | None:
        return await self.at(now_ms())

    async def list(self) -> list[Program]:
        """The newest version of each programme, `default` first, then by id."""
        found = current(await self.versions(fresh=True))
        return sorted(found.values(), key=lambda p: (p.id != DEFAULT_ID, p.id))

    async def get(self, programme_id: str, fresh: bool = True) -> Program:
        found = current(await self.versions(fresh=fresh)).get(programme_id)
        if found is None:
            raise NotFound("Reward programme", programme_id)
        return found

    async def create(self, fields: dict[str, Any]) -> Program:
        """Version 1 of a new programme, effective now. Raises Invalid."""
        now = now_ms()
        programme = check(
            Program(
                **fields,
                id=f"prg_{uuid4().hex[:16]}",
                version=1,
                effective_from=now,
                recorded_at=now,
            )
        )
        await self.store.record(programme.to_doc())
        await self.versions(fresh=True)
        return programme

    async def change(self, programme_id: str, changes: dict[str, Any]) -> Program:
        """The next version with `changes`, effective now (orders placed before keep earning by
        the version they were placed under). Two concurrent changes: both are recorded, one
        after the other (the unique version makes the later one build on the earlier)."""
        for _ in range(20):
            latest = await self.get(programme_id)
            new = next_version(latest, changes, now_ms())
            if await self.store.record(new.to_doc()):
                await self.versions(fresh=True)
                return new
            await asyncio.sleep(0.01)
        raise Busy("too many concurrent changes of this programme; retry shortly")
