"""Versioned documents whose every change is an insert with a unique (id, version).

Why: FerretDB's updates are read-then-write, so two concurrent conditional updates can both
pass (docs/reliability.md). A unique index on insert is enforced everywhere, so each change is first
recorded as `<name>_changes` {_id: "<id>:<version>", state, outbox, cause}; a second writer of
the same version gets a conflict and retries on fresh state. The record also carries the events
(the outbox) and the id of what caused it (an event id), so a redelivered event that already
changed a document is recognised. `<name>` holds the current state (a projection for queries);
it is brought up to the newest recorded version by the writer and again by the relay.
"""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from crm_servicekit.outbox import OUTBOX_INDEXES, OutboxSource, ProjectedHere, pending


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
        self._projected = ProjectedHere()

    @property
    def indexes(self) -> dict[str, list[IndexModel]]:
        return {
            self.current.name: [],
            self.changes.name: [
                IndexModel([("doc_id", ASCENDING), ("version", DESCENDING)]),
                IndexModel([("cause", ASCENDING)], unique=True, sparse=True),
                *OUTBOX_INDEXES,
            ],
        }

    def outbox_source(self) -> OutboxSource:
        # Published changes are history once projected: the retention job may prune old ones.
        # Their events carry the document's version, so consumers order them themselves.
        return OutboxSource(self.changes, after_publish=self._project_published, prunable=True, ordered=False)

    async def get(self, doc_id: str, probe: bool = True) -> dict[str, Any] | None:
        """Newest state: the projection, unless a newer change is not projected yet.

        Two reads by `_id`: the projection, then the change record of the version after it.
        The probe is needed: a projection can lag (a writer between recording and projecting)
        or even go back (FerretDB's updates are read-then-write, so a late projection of an
        older change can overwrite a newer one), and a caller that decides "nothing to change"
        on a stale state would never meet the version conflict that reveals it.

        `probe=False`: the projection alone (one read), for a load-decide-commit whose commit
        meets the conflict when it was stale, and which checks a decision to change nothing
        with `newer_recorded`."""
        doc = await self.current.find_one({"_id": doc_id})
        if not probe:
            return doc
        version = doc.get("version", 0) if doc else 0
        while True:
            newer = await self.changes.find_one({"_id": f"{doc_id}:{version + 1}"}, projection={"outbox": 0})
            if newer is None:
                return doc
            doc, version = newer["state"], version + 1
            if doc is None:  # erased
                return None

    async def newer_recorded(self, doc_id: str, doc: dict[str, Any] | None) -> bool:
        """Whether a version after `doc` (None: before the first) is recorded: one read by `_id`."""
        version = doc.get("version", 0) if doc else 0
        return await self.changes.find_one({"_id": f"{doc_id}:{version + 1}"}, {"_id": 1}) is not None

    async def change_by_cause(self, doc_id: str, cause: str) -> dict[str, Any] | None:
        """The change `cause` made to `doc_id` (after AlreadyApplied: what the first handling of
        a redelivered event recorded), or None once pruned."""
        return await self.changes.find_one({"cause": f"{cause}:{doc_id}"})

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
        if state is not None and state.get("version") != version:
            raise ValueError(f"{doc_id}: state version {state.get('version')} is not {version}")
        change = {
            "_id": f"{doc_id}:{version}",
            "doc_id": doc_id,
            "version": version,
            "state": state,
            "recorded_at": datetime.now(UTC),
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
        self._projected.mark(change["_id"])
        self._notify()

    async def _project_published(self, changes: list[dict[str, Any]]) -> None:
        """The relay's pass: a change this process projected itself is skipped; any other (made
        by another replica, or left by a writer that stopped before projecting) is projected
        again, which changes nothing where it was done already."""
        for change in changes:
            if not self._projected.take(change["_id"]):
                await self._project(change)

    async def _project(self, change: dict[str, Any]) -> None:
        await self.project(change["doc_id"], change["version"], change["state"])

    async def project(self, doc_id: str, version: int, state: dict[str, Any] | None) -> None:
        """Brings the projection up to `version` (a recorded change), or to a newer one.

        FerretDB's replace is read-then-write, so an older version's write that read before
        ours can land after it. Hence every writer probes for the next version after writing:
        whoever writes last then sees any newer change (recorded before its newer projection
        was written, so before this probe) and projects it, and the projection never stays
        behind the newest recorded version."""
        while True:
            if state is None:  # erased: drop the projection and every older snapshot of it
                await self.current.delete_one({"_id": doc_id})
                await self.changes.delete_many({"doc_id": doc_id, "version": {"$lt": version}})
                return
            try:
                await self.current.replace_one(
                    {"_id": doc_id, "version": {"$lt": version}}, state, upsert=True
                )
            except DuplicateKeyError:
                pass  # the projection holds this or a newer version (its writer probes too)
            newer = await self.changes.find_one({"_id": f"{doc_id}:{version + 1}"}, projection={"outbox": 0})
            if newer is None:
                return
            version, state = version + 1, newer["state"]


async def retry_on_conflict(attempt: Callable[[], Awaitable[Any]], tries: int = 20) -> Any:
    """Run a load-decide-commit function again while another writer wins the version race."""
    for i in range(tries):
        try:
            return await attempt()
        except VersionConflict:
            if i == tries - 1:
                raise
            await asyncio.sleep(0.005 * (i + 1))
