"""Creating, editing, deleting and reading groups: load, decide (domain), commit with the events."""

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from crm_contracts import new_event
from crm_contracts.names import EventType
from crm_contracts.outbound import GroupDeleted, GroupState
from crm_groups.domain import (
    GroupChanges,
    GroupDoc,
    GroupFields,
    GroupView,
    MetadataLimits,
    clean_name,
    default_group_id,
    edited,
    group_view,
    merge_metadata,
    name_key,
    new_group,
    new_group_id,
)
from crm_groups.settings import GroupsSettings
from crm_groups.store import GroupStore
from crm_servicekit.clock import now_ms
from crm_servicekit.errors import Busy, Conflict, NotFound
from crm_servicekit.versioned import VersionConflict, retry_on_conflict

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class Listing(Generic[T]):
    """One page of a listing: the items, and the sort key of the last one if more follow."""

    items: list[T]
    next_after: tuple[str, ...] | None


def name_taken(name: str) -> Conflict:
    return Conflict(
        "group-name-taken",
        "Group name taken",
        f"a group named {clean_name(name)!r} exists (names are case-insensitive)",
    )


def too_busy(group_id: str) -> Busy:
    """Every attempt lost the version race to another writer: a 503 with Retry-After, not a 500."""
    return Busy(f"too many concurrent changes of group {group_id!r}; retry shortly")


async def group_or_not_found(store: GroupStore, group_id: str) -> GroupDoc:
    doc = await store.get(group_id)
    if doc is None:
        raise NotFound("Group", group_id)
    return doc


@dataclass
class Groups:
    store: GroupStore
    settings: GroupsSettings
    _defaults_done: bool = field(default=False, init=False)

    @property
    def metadata_limits(self) -> MetadataLimits:
        s = self.settings
        return MetadataLimits(s.metadata_max_keys, s.metadata_max_key_length, s.metadata_max_value_length)

    def _state_event(self, event_type: str, doc: GroupDoc, member_count: int) -> dict[str, Any]:
        data = GroupState(**group_view(doc, member_count))
        return new_event(event_type, self.settings.source, data, subject=doc["id"])

    # --- reading ----------------------------------------------------------------------------

    async def group(self, group_id: str) -> GroupDoc:
        """The group; NotFound if there is none."""
        return await group_or_not_found(self.store, group_id)

    async def get_group(self, group_id: str) -> GroupView:
        doc = await self.group(group_id)
        return group_view(doc, await self.store.member_count(group_id))

    async def list_groups(
        self, q: str | None, after: tuple[str, str] | None, limit: int
    ) -> Listing[GroupView]:
        """By name, then id (the sort key: name key, id); `q` matches a part of the name."""
        docs = await self.store.list_groups(q, after, limit + 1)
        page, more = docs[:limit], len(docs) > limit
        counts = await self.store.member_counts([d["_id"] for d in page])
        return Listing(
            [group_view(d, counts.get(d["_id"], 0)) for d in page],
            (page[-1]["name_key"], page[-1]["_id"]) if more else None,
        )

    # --- changing ---------------------------------------------------------------------------

    async def create_group(self, fields: GroupFields, metadata: Mapping[str, object]) -> GroupView:
        """Raises InvalidMetadata, or Conflict group-name-taken."""
        meta = merge_metadata({}, metadata, self.metadata_limits)
        group_id = new_group_id()
        doc = new_group(group_id, fields, meta, now_ms())
        if not await self.store.claim_name(doc["name_key"], group_id):
            raise name_taken(doc["name"])
        try:
            await self.store.record_group(doc, [self._state_event(EventType.GROUP_CREATED, doc, 0)])
        except BaseException:
            await self.store.release_name(doc["name_key"], group_id)
            raise
        return group_view(doc, 0)

    async def edit_group(
        self, group_id: str, changes: GroupChanges, metadata: Mapping[str, object] | None
    ) -> GroupView:
        """Raises NotFound, InvalidMetadata, Conflict group-name-taken, or Busy (lost every race)."""
        store = self.store
        claimed: set[str] = set()

        async def attempt() -> GroupView:
            doc = await group_or_not_found(store, group_id)
            new = edited(doc, changes, metadata, self.metadata_limits, now_ms())
            count = await store.member_count(group_id)
            if new is None:
                return group_view(doc, count)  # nothing changed: no new version, no event
            if new["name_key"] != doc["name_key"]:
                if not await store.claim_name(new["name_key"], group_id):
                    raise name_taken(new["name"])
                claimed.add(new["name_key"])
            await store.record_group(new, [self._state_event(EventType.GROUP_UPDATED, new, count)])
            if doc["name_key"] != new["name_key"]:
                await store.release_name(doc["name_key"], group_id)
            return group_view(new, count)

        try:
            view: GroupView = await retry_on_conflict(attempt)
        except VersionConflict:
            raise too_busy(group_id) from None
        finally:
            # Names claimed by attempts that lost a race or failed, and not the name now held.
            current = await store.get(group_id)
            for key in claimed - ({current["name_key"]} if current else set()):
                await store.release_name(key, group_id)
        return view

    async def delete_group(self, group_id: str) -> None:
        """Irreversible. The customers stay; memberships, pricing and metadata go with the group.
        Raises NotFound, or Busy (lost every race)."""
        store = self.store
        await store.deletion_started(group_id)  # lets recovery finish if we crash below

        async def attempt() -> GroupDoc:
            doc = await group_or_not_found(store, group_id)
            count = await store.member_count(group_id)
            data = GroupDeleted(id=group_id, name=doc["name"], members_removed=count)
            event = new_event(EventType.GROUP_DELETED, self.settings.source, data, subject=group_id)
            await store.record_group_deleted(doc, [event])
            return doc

        try:
            doc: GroupDoc = await retry_on_conflict(attempt)
        except NotFound:
            await store.deletion_done(group_id)
            raise
        except VersionConflict:  # the recovery job clears the deletion mark of a group still there
            raise too_busy(group_id) from None
        await store.delete_all_members(group_id)
        await store.delete_group_prices(group_id)
        await store.release_name(doc["name_key"], group_id)
        await store.deletion_done(group_id)

    # --- default groups ---------------------------------------------------------------------

    async def create_default_groups(self) -> None:
        """Creates each configured default group once per installation, whichever replica
        starts first (a unique claim per name, and the same group id on every replica). A
        default group removed later is not made again; a name already taken is skipped."""
        if self._defaults_done:
            return
        for name in self.settings.default_group_names:
            key = name_key(name)
            claim = await self.store.claim_default(
                {
                    "_id": key,
                    "group_id": default_group_id(key),
                    "name": clean_name(name),
                    "claimed_at": now_ms(),
                    "done": False,
                }
            )
            if not claim["done"]:
                await self._create_default(claim["group_id"], claim["name"])
                await self.store.default_done(key)
        self._defaults_done = True

    async def _create_default(self, group_id: str, name: str) -> None:
        store = self.store
        if await store.group_ever_recorded(group_id):
            return  # made before (by another replica, or before a crash), maybe removed since
        doc = new_group(group_id, {"name": name}, {}, now_ms())
        if not await store.claim_name(doc["name_key"], group_id):
            log.info("default group %r not created: a group of that name exists", name)
            return
        try:
            await store.record_group(doc, [self._state_event(EventType.GROUP_CREATED, doc, 0)])
        except VersionConflict:
            pass  # another replica created it at the same time
