"""A service's copy of another service's versioned entity (the customer, from customer.* events
that carry its version): the newest version wins, in whatever order the events are handled.

Why not one conditional update: FerretDB's update is read-then-write, so the write of an older
version that read before a newer one's can land after it, and the copy stays behind for good.
So each version is first inserted under a unique key `<id>:<version>` into a collection of its
own; after writing the copy, its writer looks for a newer record (inserted before that newer
version's write, so before this look) and writes that one too. Whoever writes last sees the
newest record, and the copy ends at the newest version. Records older than the one written are
deleted then: no later look needs them.
"""

from collections.abc import Mapping
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

VERSION_INDEXES = [IndexModel([("doc_id", ASCENDING), ("version", DESCENDING)])]
"""The indexes of a copy's version records (declare them in the service's index spec)."""


class VersionedCopy:
    def __init__(
        self, copies: AsyncCollection, versions: AsyncCollection, alive: Mapping[str, Any] | None = None
    ) -> None:
        """`alive`: what a copy must match to be updated (`{"deleted": False}`: an erasure stays)."""
        self.copies = copies
        self.versions = versions
        self.alive = dict(alive or {})

    async def write(
        self,
        doc_id: str,
        version: int,
        fields: Mapping[str, Any],
        on_insert: Mapping[str, Any] | None = None,
        exists: bool = False,
    ) -> bool:
        """The copy of `doc_id` at `version` holds `fields` (and `version`), unless it holds a
        newer version. `on_insert`: fields only the copy's first write stores. `exists`: the
        caller read the copy already (copies are never deleted here), so no insert is tried.
        Returns whether this call's write found the copy older (or absent)."""
        record = {"_id": f"{doc_id}:{version}", "doc_id": doc_id, "version": version, "fields": dict(fields)}
        try:
            await self.versions.insert_one(record)
        except DuplicateKeyError:
            pass  # this version again (a redelivery, or two handlers of one event)
        changed: bool | None = None
        while True:
            wrote = await self._write_once(doc_id, version, fields, on_insert, exists)
            changed = wrote if changed is None else changed
            newer = await self.versions.find_one(
                {"doc_id": doc_id, "version": {"$gt": version}}, sort=[("version", DESCENDING)]
            )
            if newer is None:
                if version > 1:  # version 1 has none older
                    await self.versions.delete_many({"doc_id": doc_id, "version": {"$lt": version}})
                if not changed and self.alive and await self._erased(doc_id):
                    await self.forget(doc_id)  # a late event of an erased entity keeps nothing
                return changed
            version, fields, exists = newer["version"], newer["fields"], True

    async def _write_once(
        self,
        doc_id: str,
        version: int,
        fields: Mapping[str, Any],
        on_insert: Mapping[str, Any] | None,
        exists: bool,
    ) -> bool:
        """One command where the guess is right: the first version inserts first (the copy is
        rarely there yet), any later one updates first (it usually is)."""
        values = {**fields, "version": version}
        if exists or version > 1:
            if await self._update(doc_id, version, values):
                return True
            if exists:
                return False
        try:
            await self.copies.insert_one({"_id": doc_id, **self.alive, **values, **(on_insert or {})})
            return True
        except DuplicateKeyError:  # there already (written meanwhile, or older, newer, erased)
            return await self._update(doc_id, version, values)

    async def _update(self, doc_id: str, version: int, values: Mapping[str, Any]) -> bool:
        result = await self.copies.update_one(
            {"_id": doc_id, **self.alive, "version": {"$lt": version}}, {"$set": values}
        )
        return result.modified_count > 0

    async def _erased(self, doc_id: str) -> bool:
        return await self.copies.find_one({"_id": doc_id, **self.alive}, {"_id": 1}) is None

    async def forget(self, doc_id: str) -> None:
        """An erasure: the version records go too (they hold what the copy held)."""
        await self.versions.delete_many({"doc_id": doc_id})
