"""Versioned documents whose every change is an insert with a unique (id, version).

Why: FerretDB's updates are read-then-write, so two concurrent conditional updates can both
pass (DESIGN.md). A unique index on insert is enforced everywhere, so each change is first
recorded as `<name>_changes` {_id: "<id>:<version>", state, outbox, cause}; a second writer of
the same version gets a conflict and retries on fresh state. The record also carries the events
(the outbox) and the id of what caused it (an event id), so a redelivered event that already
changed a document is recognised. `<name>` holds the current state (a projection for queries);
it is brought up to the newest recorded version by the writer and again by the relay.
"""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from crm_servicekit.outbox import OUTBOX_INDEXES, OutboxSource, pending


class VersionConflict(Exception):
    """Someone else recorded this version first: reload and try again."""


class AlreadyApplied(Exception):
    """This cause (event id) already changed this document."""


class VersionedStore:
    def __init__(self, db: AsyncDatabase, name: str, notify: Callable[[], None] = lambda: None):
        self.name = name
        self.current = db[name]
        self.changes = db[f"{name}_changes"]
        self._notify = notify

    @property
    def indexes(self) -> dict[str, list[IndexModel]]:
        return {
            self.changes.name: [
                IndexModel([("doc_id", ASCENDING), ("version", DESCENDING)]),
                IndexModel([("cause", ASCENDING)], unique=True, sparse=True),
                *OUTBOX_INDEXES,
            ]
        }

    def outbox_source(self) -> OutboxSource:
        # Published changes are history once projected: the retention job may prune old ones.
        return OutboxSource(self.changes, after_publish=self._project, prunable=True)

    async def get(self, doc_id: str) -> dict[str, Any] | None:
        """Newest state: the projection, unless a newer change is not projected yet."""
        doc = await self.current.find_one({"_id": doc_id})
        latest = await self.changes.find_one(
            {"doc_id": doc_id}, sort=[("version", DESCENDING)], projection={"outbox": 0}
        )
        if latest and (doc is None or latest["version"] > doc.get("version", 0)):
            return latest["state"]
        return doc

    async def commit(
        self,
        doc_id: str,
        version: int,
        state: dict[str, Any] | None,
        events: list[dict[str, Any]],
        cause: str | None = None,
    ) -> None:
        """Record `state` (None = erased) as `version` of `doc_id`, with its events.
        Raises VersionConflict or AlreadyApplied and then changes nothing."""
        change = {
            "_id": f"{doc_id}:{version}",
            "doc_id": doc_id,
            "version": version,
            "state": state,
            "recorded_at": datetime.now(timezone.utc),
            **pending(events),
        }
        if cause is not None:
            change["cause"] = f"{cause}:{doc_id}"
        try:
            await self.changes.insert_one(change)
        except DuplicateKeyError as e:
            # FerretDB's error does not name the index, so look the cause up.
            if cause is not None and await self.changes.find_one({"cause": change["cause"]}, {"_id": 1}):
                raise AlreadyApplied(cause) from e
            raise VersionConflict(doc_id) from e
        await self._project(change)
        self._notify()

    async def _project(self, change: dict[str, Any]) -> None:
        doc_id, version, state = change["doc_id"], change["version"], change["state"]
        if state is None:  # erased: drop the projection and every older snapshot of it
            await self.current.delete_one({"_id": doc_id})
            await self.changes.delete_many({"doc_id": doc_id, "version": {"$lt": version}})
            return
        try:
            await self.current.replace_one(
                {"_id": doc_id, "version": {"$lt": version}}, state, upsert=True
            )
        except DuplicateKeyError:
            pass  # the projection already holds this or a newer version


async def retry_on_conflict(
    attempt: Callable[[], Awaitable[Any]], tries: int = 20
) -> Any:
    """Run a load-decide-commit function again while another writer wins the version race."""
    for i in range(tries):
        try:
            return await attempt()
        except VersionConflict:
            if i == tries - 1:
                raise
            await asyncio.sleep(0.005 * (i + 1))
