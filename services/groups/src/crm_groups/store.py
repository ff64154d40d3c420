"""Every query and index of the groups service; documents in, typed documents (domain) out.

Collections (one MongoDB database of the service's own; each document's fields in
domain/documents.py):
- `groups` / `groups_changes`: the groups, versioned (VersionedStore): every change an insert
  with a unique (id, version), carrying group.created / updated / deleted (the outbox).
- `group_names` {_id: name key, group_id}: the claim that makes names unique (case-insensitive)
  under concurrent creates and renames: an insert with a unique _id.
- `memberships` {_id: "<group_id>:<customer_id>"}: one document per membership; the unique _id
  is what makes concurrent bulk adds safe and a second add of a member a no-op.
- `membership_removals` {_id: "<group_id>:<customer_id>:<adding change>"}: the claim of one
  membership's removal, so two concurrent removals of a member announce it once.
- `membership_versions` {_id: "<group_id>:<customer_id>:<v>", pair, v, change, member, op}:
  every add and remove of a (group, customer) pair, inserted once: the unique `_id` decides
  the pair's version carried by group.members.* (1 for its first add, +1 per change).
- `membership_ops`: the work record of one membership change, written before it is applied, so
  a crash halfway is finished by the recovery job.
- `membership_events` {_id: op id, outbox}: the events of one finished change, inserted once
  (unique op id), published by the outbox relay.
- `known_customers` {_id: customer id, deleted, spend, buyer}: which customers exist and what
  they have spent, from customer events; `known_customer_versions` {_id: "<customer>:<version>"}
  the versions seen, so that the newest one is written last (servicekit.copies).
- `group_deletions` {_id: group id}: a deletion whose memberships may still need clearing.
- `group_prices` {_id: entry id, group_id, sku_key, outbox}: the price lists, one document per
  entry, inserted with the group.pricing.updated of its creation (an outbox source).
- `price_removals` {_id: "<entry id>:removed", outbox}: the removal of an entry, inserted once
  before the entry is deleted (an outbox source).
- `default_groups` {_id: name key, group_id, done}: the default groups of the installation,
  each created at most once, whichever replica starts first.
- `personal_data_exports` {_id: request id, customer_id, outbox}: the personal_data.collected
  answering one request, inserted once (an outbox source, deleted once published).
- `erasure_plans` {_id: customer id, counts}: what a customer's erasure found, inserted once
  before it erases anything; `erasures` {_id: customer id, outbox}: its personal_data.erased,
  inserted once after (an outbox source).
"""

import asyncio
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from crm_contracts.types import utcnow
from crm_groups.domain import (
    ALL_SKUS,
    DefaultGroupClaim,
    ErasurePlan,
    ErasureRecord,
    GroupDeletion,
    GroupDoc,
    KnownCustomer,
    MembershipDoc,
    MembershipEvents,
    MembershipOp,
    MembershipVersion,
    NameClaim,
    PersonalDataExport,
    PriceDoc,
    PriceRemoval,
    RemovalClaim,
    Removing,
    Spend,
    chunks,
)
from crm_servicekit.copies import VERSION_INDEXES, VersionedCopy
from crm_servicekit.errors import Busy
from crm_servicekit.mongo import IndexSpec, insert_many_once, insert_once
from crm_servicekit.outbox import OUTBOX_INDEXES, OutboxSource, pending
from crm_servicekit.versioned import VersionedStore

BATCH = 1000  # ids per query or insert: bounded request sizes on MongoDB and FerretDB alike
FEW = 64  # up to this many ids are looked up one by one by _id
FEW_SPEND = 500  # the analytics of a group this small look its members up one by one
STALE_CLAIM = timedelta(seconds=60)

INDEXES: IndexSpec = {
    "groups": [IndexModel([("name_key", ASCENDING), ("_id", ASCENDING)])],
    "memberships": [
        IndexModel([("group_id", ASCENDING), ("_id", ASCENDING)]),
        IndexModel([("customer_id", ASCENDING), ("group_id", ASCENDING)]),
        IndexModel([("op", ASCENDING)]),
    ],
    "membership_ops": [IndexModel([("done", ASCENDING), ("started_at", ASCENDING)])],
    "membership_events": list(OUTBOX_INDEXES),
    "group_names": [],
    "membership_removals": [],
    "known_customers": [IndexModel([("buyer", ASCENDING)])],
    "known_customer_versions": VERSION_INDEXES,
    "group_deletions": [],
    "group_prices": [IndexModel([("group_id", ASCENDING), ("sku_key", ASCENDING)]), *OUTBOX_INDEXES],
    "price_removals": list(OUTBOX_INDEXES),
    "default_groups": [],
    "membership_versions": [
        IndexModel([("pair", ASCENDING)]),
        IndexModel([("customer_id", ASCENDING)]),
        IndexModel([("group_id", ASCENDING)]),
    ],
    "personal_data_exports": [IndexModel([("customer_id", ASCENDING)]), *OUTBOX_INDEXES],
    "erasure_plans": [],
    "erasures": list(OUTBOX_INDEXES),
    "leaving_plans": [],
}
"""The service's own indexes; `GroupStore.indexes` adds those of the versioned `groups`."""


def member_key(group_id: str, customer_id: str) -> str:
    # Group ids never contain ":", so this is unique whatever the customer id holds.
    return f"{group_id}:{customer_id}"


class GroupStore:
    def __init__(self, db: AsyncDatabase, notify: Callable[[], None]) -> None:
        self.groups = VersionedStore(db, "groups", notify)
        self.names = db["group_names"]
        self.members = db["memberships"]
        self.ops = db["membership_ops"]
        self.removals = db["membership_removals"]
        self.member_events = db["membership_events"]
        self.customers = db["known_customers"]
        self.customer_copies = VersionedCopy(
            self.customers, db["known_customer_versions"], {"deleted": False}
        )
        self.deletions = db["group_deletions"]
        self.prices = db["group_prices"]
        self.price_removals = db["price_removals"]
        self.defaults = db["default_groups"]
        self.versions = db["membership_versions"]
        self.exports = db["personal_data_exports"]
        self.erasure_plans = db["erasure_plans"]
        self.erasures = db["erasures"]
        self.leaving = db["leaving_plans"]
        self._notify = notify

    @property
    def indexes(self) -> IndexSpec:
        return {**self.groups.indexes, **INDEXES}

    def outbox_sources(self) -> list[OutboxSource]:
        # Group changes first: in one relay pass a group.created goes out before its members.
        # Price entries before their removals: an entry added and removed is announced in order.
        return [
            self.groups.outbox_source(),
            OutboxSource(self.member_events),
            OutboxSource(self.prices),
            OutboxSource(self.price_removals, prunable=True),
            # An answer holds personal data: kept only until it is published.
            OutboxSource(self.exports, after_publish=self._forget_exports, prunable=True, ordered=False),
            OutboxSource(self.erasures, prunable=True, ordered=False),
        ]

    # --- groups ---------------------------------------------------------------------------

    async def get(self, group_id: str) -> GroupDoc | None:
        return cast(GroupDoc | None, await self.groups.get(group_id))

    async def record_group(self, doc: GroupDoc, events: list[dict[str, Any]]) -> None:
        """Records `doc` as its version, with its events. Raises VersionConflict."""
        await self.groups.commit(doc["id"], doc["version"], cast(dict[str, Any], doc), events)

    async def record_group_deleted(self, doc: GroupDoc, events: list[dict[str, Any]]) -> None:
        """Records the end of the group as the version after `doc`. Raises VersionConflict."""
        await self.groups.commit(doc["id"], doc["version"] + 1, None, events)

    async def list_groups(self, q: str | None, after: tuple[str, str] | None, limit: int) -> list[GroupDoc]:
        """Ordered by name (case-insensitive), then id; `q` matches a part of the name."""
        filters: list[dict[str, Any]] = []
        if q:
            filters.append({"name_key": {"$regex": re.escape(q.casefold())}})
        if after:
            filters.append(
                {"$or": [{"name_key": {"$gt": after[0]}}, {"name_key": after[0], "_id": {"$gt": after[1]}}]}
            )
        query = {"$and": filters} if filters else {}
        cursor = self.groups.current.find(query).sort([("name_key", ASCENDING), ("_id", ASCENDING)])
        return cast(list[GroupDoc], await cursor.limit(limit).to_list())

    async def groups_by_id(self, group_ids: Sequence[str]) -> dict[str, GroupDoc]:
        out: dict[str, GroupDoc] = {}
        for batch in chunks(list(group_ids), BATCH):
            async for doc in self.groups.current.find({"_id": {"$in": list(batch)}}):
                out[doc["_id"]] = cast(GroupDoc, doc)
        return out

    async def claim_name(self, key: str, group_id: str) -> bool:
        """True if `group_id` now holds the name. A claim left by a create or rename that
        crashed before committing is taken over once it is old enough."""
        for _ in range(3):
            mine: NameClaim = {"_id": key, "group_id": group_id, "claimed_at": utcnow()}
            if await insert_once(self.names, mine):
                return True
            claim = await self.names.find_one({"_id": key})
            if claim is None:
                continue  # released meanwhile
            if claim["group_id"] == group_id:
                return True
            if claim["claimed_at"] > utcnow() - STALE_CLAIM:
                return False
            holder = await self.get(claim["group_id"])
            if holder is not None and holder["name_key"] == key:
                return False
            await self.names.delete_one({"_id": key, "group_id": claim["group_id"]})
        return False

    async def release_name(self, key: str, group_id: str) -> None:
        await self.names.delete_one({"_id": key, "group_id": group_id})

    # --- memberships ----------------------------------------------------------------------

    async def member_count(self, group_id: str) -> int:
        # Counted, never kept as a counter: FerretDB's $inc can lose concurrent increments.
        return await self.members.count_documents({"group_id": group_id})

    async def member_counts(self, group_ids: Sequence[str]) -> dict[str, int]:
        if not group_ids:
            return {}
        rows = await (
            await self.members.aggregate(
                [
                    {"$match": {"group_id": {"$in": list(group_ids)}}},
                    {"$group": {"_id": "$group_id", "n": {"$sum": 1}}},
                ]
            )
        ).to_list()
        return {r["_id"]: r["n"] for r in rows}

    async def present_members(self, group_id: str, customer_ids: Sequence[str]) -> dict[str, str]:
        """Of these customers, the members: customer id -> the change that added them (which
        names this membership among the customer's past and future ones in the group)."""
        found: dict[str, str] = {}
        for batch in chunks(list(customer_ids), BATCH):
            keys = [member_key(group_id, c) for c in batch]
            async for doc in self.members.find({"_id": {"$in": keys}}, {"customer_id": 1, "op": 1}):
                found[doc["customer_id"]] = doc["op"]
        return {c: found[c] for c in customer_ids if c in found}

    async def claim_removals(self, group_id: str, memberships: dict[str, str], op_id: str) -> dict[str, str]:
        """Claims the removal of each membership for change `op_id` (a unique insert per
        membership), so that of two concurrent removals of one member only one announces it.
        Returns the memberships this change removes (including claims it made before a crash)."""
        ours: set[str] = set()
        items = list(memberships.items())
        for batch in chunks(items, BATCH):
            docs: list[RemovalClaim] = [
                {"_id": f"{member_key(group_id, c)}:{added_by}", "by": op_id, "at": utcnow()}
                for c, added_by in batch
            ]
            duplicates = await insert_many_once(self.removals, docs)
            if duplicates:
                dup_ids = [docs[i]["_id"] for i in duplicates]
                mine = {
                    d["_id"]
                    async for d in self.removals.find({"_id": {"$in": dup_ids}, "by": op_id}, {"_id": 1})
                }
                duplicates = {i for i in duplicates if docs[i]["_id"] not in mine}
            ours.update(c for i, (c, _) in enumerate(batch) if i not in duplicates)
        return {c: added_by for c, added_by in items if c in ours}

    async def delete_memberships(self, group_id: str, memberships: dict[str, str]) -> None:
        """Deletes exactly these memberships (customer id -> adding change): a customer added
        again meanwhile by another change keeps that newer membership."""
        by_op: dict[str, list[str]] = {}
        for c, added_by in memberships.items():
            by_op.setdefault(added_by, []).append(member_key(group_id, c))
        for added_by, keys in by_op.items():
            for batch in chunks(keys, BATCH):
                await self.members.delete_many({"_id": {"$in": list(batch)}, "op": added_by})

    async def insert_members(self, group_id: str, customer_ids: Sequence[str], op_id: str) -> list[str]:
        """Inserts the memberships; returns the ids this call made members (duplicates = the
        customer already was a member, by an earlier or a concurrent call)."""
        now = utcnow()
        added: list[str] = []
        for batch in chunks(list(customer_ids), BATCH):
            docs: list[MembershipDoc] = [
                {
                    "_id": member_key(group_id, c),
                    "group_id": group_id,
                    "customer_id": c,
                    "added_at": now,
                    "op": op_id,
                }
                for c in batch
            ]
            duplicates = await insert_many_once(self.members, docs)
            added.extend(c for i, c in enumerate(batch) if i not in duplicates)
        return added

    async def members_added_by(self, group_id: str, op_id: str) -> list[str]:
        return [
            d["customer_id"]
            async for d in self.members.find({"group_id": group_id, "op": op_id}, {"customer_id": 1})
        ]

    async def delete_all_members(self, group_id: str) -> int:
        """The group's memberships and the history of their versions (the group is gone)."""
        deleted = (await self.members.delete_many({"group_id": group_id})).deleted_count
        await self.versions.delete_many({"group_id": group_id})
        return deleted

    async def members_page(self, group_id: str, after: str | None, limit: int) -> list[MembershipDoc]:
        query: dict[str, Any] = {"group_id": group_id}
        if after is not None:
            query["_id"] = {"$gt": member_key(group_id, after)}
        return cast(
            list[MembershipDoc], await self.members.find(query).sort("_id", ASCENDING).limit(limit).to_list()
        )

    async def memberships_of(
        self, customer_id: str, after: str | None = None, limit: int | None = None
    ) -> list[MembershipDoc]:
        query: dict[str, Any] = {"customer_id": customer_id}
        if after is not None:
            query["group_id"] = {"$gt": after}
        cursor = self.members.find(query).sort("group_id", ASCENDING)
        if limit is not None:
            cursor = cursor.limit(limit)
        return cast(list[MembershipDoc], await cursor.to_list())

    async def groups_to_leave(self, plan_id: str, customer_id: str) -> list[str]:
        """The groups a customer leaves for one event (deleted, merged): those it was in when
        the event was first handled, kept under `plan_id`, and any it is in now. A redelivery
        after a stop part-way thus resumes every group, also those it already left."""
        now = [m["group_id"] for m in await self.memberships_of(customer_id)]
        plan = {"_id": plan_id, "customer_id": customer_id, "groups": now, "at": utcnow()}
        if await insert_once(self.leaving, plan):
            return now
        first = await self.leaving.find_one({"_id": plan_id})
        return sorted({*(first["groups"] if first else []), *now})

    async def forget_leaving(self, plan_id: str) -> None:
        """An erasure done: which groups the person was in goes too."""
        await self.leaving.delete_one({"_id": plan_id})

    # --- the versions of (group, customer) pairs -------------------------------------------
    #
    # Every add and every remove of a pair claims the pair's next version with an insert whose
    # `_id` is "<group>:<customer>:<v>": two writers can never take the same version. Order:
    # a membership's add is claimed after its document is inserted (by the adding change, or
    # by a removal that finds it unclaimed); its removal is claimed after its add and before
    # its document is deleted; the next membership's document can only be inserted after that
    # deletion. So the versions of a pair follow the order its changes happened in.

    async def add_versions(self, group_id: str, members: dict[str, str]) -> dict[str, int]:
        """The version of the add of each membership (customer id -> the change that added it),
        claimed where nobody has yet. A pair's first membership is tried as version 1 in one
        bulk insert; a pair with history is looked up and claimed one by one."""
        return await self._claim_versions(group_id, members, "added", {c: 1 for c in members}, None)

    async def removal_versions(
        self, group_id: str, memberships: dict[str, str], added: dict[str, int], op_id: str
    ) -> dict[str, int]:
        """The version of the removal of each membership (customer id -> adding change) by change
        `op_id`: the version after its add (`added`, settled first), claimed once."""
        guesses = {c: added[c] + 1 for c in memberships}
        return await self._claim_versions(group_id, memberships, "removed", guesses, op_id)

    async def _claim_versions(
        self, group_id: str, members: dict[str, str], change: str, guesses: dict[str, int], op_id: str | None
    ) -> dict[str, int]:
        out: dict[str, int] = {}
        slow: list[str] = []
        for batch in chunks(list(members.items()), BATCH):
            docs = [
                self._version(group_id, c, guesses[c], change, member, op_id or member) for c, member in batch
            ]
            duplicates = await insert_many_once(self.versions, docs)
            stored = await self._versions_by_id([docs[i]["_id"] for i in duplicates])
            for i, (c, member) in enumerate(batch):
                held = stored.get(docs[i]["_id"]) if i in duplicates else docs[i]
                if held is not None and held["change"] == change and held["member"] == member:
                    out[c] = docs[i]["v"]
                else:
                    slow.append(c)
        for c in slow:
            out[c] = await self._claim_next(group_id, c, change, members[c], op_id or members[c])
        return {c: out[c] for c in members}  # in the order asked: the events list them so

    async def _versions_by_id(self, keys: Sequence[str]) -> dict[str, MembershipVersion]:
        if not keys:
            return {}
        if len(keys) <= FEW:  # by _id, index-served
            docs = await asyncio.gather(*(self.versions.find_one({"_id": k}) for k in keys))
            return {d["_id"]: cast(MembershipVersion, d) for d in docs if d is not None}
        return {
            d["_id"]: cast(MembershipVersion, d)
            async for d in self.versions.find({"_id": {"$in": list(keys)}})
        }

    async def _claim_next(self, group_id: str, customer_id: str, change: str, member: str, op_id: str) -> int:
        """The pair's change (`change` of membership `member`) if recorded, else the version
        after the pair's newest, claimed (another writer first: read again)."""
        pair = member_key(group_id, customer_id)
        for _ in range(20):
            history = await self.versions.find({"pair": pair}, {"v": 1, "change": 1, "member": 1}).to_list()
            for d in history:
                if d["change"] == change and d["member"] == member:
                    return int(d["v"])
            v = max((int(d["v"]) for d in history), default=0) + 1
            if await insert_once(
                self.versions, self._version(group_id, customer_id, v, change, member, op_id)
            ):
                return v
        raise Busy(f"the membership of {customer_id} in {group_id} is changing: try again")

    @staticmethod
    def _version(
        group_id: str, customer_id: str, v: int, change: str, member: str, op_id: str
    ) -> MembershipVersion:
        pair = member_key(group_id, customer_id)
        return {
            "_id": f"{pair}:{v}",
            "group_id": group_id,
            "customer_id": customer_id,
            "pair": pair,
            "v": v,
            "change": change,
            "member": member,
            "op": op_id,
            "at": utcnow(),
        }

    async def versions_of(self, customer_id: str) -> list[MembershipVersion]:
        return cast(list[MembershipVersion], await self.versions.find({"customer_id": customer_id}).to_list())

    # --- membership change records --------------------------------------------------------

    async def start_op(
        self, op_id: str, group: GroupDoc, add: list[str], remove: list[str]
    ) -> tuple[MembershipOp, bool]:
        """Records the change before it is applied; returns the stored record and whether it
        is new (False: this change was started before, e.g. by a redelivered event)."""
        record: MembershipOp = {
            "_id": op_id,
            "group_id": group["id"],
            "group_name": group["name"],
            "add": add,
            "remove": remove,
            "started_at": utcnow(),
            "done": False,
        }
        if await insert_once(self.ops, record):
            return record, True
        stored = await self.ops.find_one({"_id": op_id})
        return (cast(MembershipOp, stored) if stored else record), False

    async def note_removing(self, op_id: str, memberships: dict[str, str]) -> None:
        """Which memberships this change removes, stored before they are deleted, so that a
        recovery after a crash knows them. A list: customer ids are no safe field names."""
        removing: list[Removing] = [{"c": c, "op": added_by} for c, added_by in memberships.items()]
        await self.ops.update_one({"_id": op_id}, {"$set": {"removing": removing}})

    async def finish_op(
        self, op_id: str, group_id: str, added: int, removed: int, events: list[dict[str, Any]]
    ) -> None:
        record = cast(
            MembershipEvents,
            {
                "_id": op_id,
                "group_id": group_id,
                "added": added,
                "removed": removed,
                "recorded_at": utcnow(),
                **pending(events),
            },
        )
        # The unique op id makes the events stored once, even if two finish the same change.
        await insert_once(self.member_events, record)
        # The requested ids are not needed any more; keep the record small.
        await self.ops.update_one(
            {"_id": op_id}, {"$set": {"done": True}, "$unset": {"add": "", "remove": "", "removing": ""}}
        )
        if events:
            self._notify()

    async def op_finished(self, op_id: str) -> bool:
        return await self.member_events.find_one({"_id": op_id}, {"_id": 1}) is not None

    async def prune(self, older_than: datetime) -> None:
        """Drops finished change records and published event records (no TTL indexes on
        FerretDB). A redelivered event older than this is caught by the inbox anyway."""
        await self.ops.delete_many({"done": True, "started_at": {"$lt": older_than}})
        await self.member_events.delete_many({"published": True, "recorded_at": {"$lt": older_than}})
        await self.removals.delete_many({"at": {"$lt": older_than}})

    async def stale_ops(self, older_than: datetime, limit: int = 20) -> list[MembershipOp]:
        cursor = self.ops.find({"done": False, "started_at": {"$lt": older_than}}).limit(limit)
        return cast(list[MembershipOp], await cursor.to_list())

    # --- customers ------------------------------------------------------------------------

    async def customer_seen(self, customer_id: str, version: int, spend: list[Spend]) -> None:
        """A customer exists (from customer.created / updated / registered), with what it has
        spent. Only this consumer writes here; an erased customer stays erased; a version older
        than the one stored changes nothing."""
        fields = {"spend": spend, "buyer": any(s["orders"] > 0 for s in spend)}
        await self.customer_copies.write(customer_id, version, fields)

    async def customer_erased(self, customer_id: str) -> None:
        await self.customer_copies.forget(customer_id)
        await self.customers.update_one(
            {"_id": customer_id},
            {"$set": {"deleted": True, "buyer": False}, "$unset": {"spend": ""}},
            upsert=True,
        )

    async def spend_of(self, customer_ids: Sequence[str]) -> dict[str, list[Spend]]:
        """What each of these customers (who bought something) spent. A few are looked up by
        `_id`; for more, the buyers are read (an index-served equality) and matched here."""
        wanted = set(customer_ids)
        if len(wanted) <= FEW_SPEND:
            docs = await asyncio.gather(
                *(self.customers.find_one({"_id": c, "buyer": True}, {"spend": 1}) for c in wanted)
            )
            return {d["_id"]: d.get("spend", []) for d in docs if d is not None}
        return {
            d["_id"]: d.get("spend", [])
            async for d in self.customers.find({"buyer": True}, {"spend": 1})
            if d["_id"] in wanted
        }

    async def member_ids(self, group_id: str) -> list[str]:
        return [d["customer_id"] async for d in self.members.find({"group_id": group_id}, {"customer_id": 1})]

    async def customer_exists(self, customer_id: str) -> bool:
        return await self.customers.find_one({"_id": customer_id, "deleted": False}, {"_id": 1}) is not None

    async def _customers_among(self, customer_ids: Sequence[str], deleted: bool) -> set[str]:
        """Which of the ids are known customers with this `deleted` flag. A few ids are looked
        up one by one by `_id` (index-served); for many, one `$in` per batch costs less, even
        though FerretDB reads the whole collection for it."""
        found: set[str] = set()
        ids = list(dict.fromkeys(customer_ids))
        if len(ids) <= FEW:
            docs = await asyncio.gather(
                *(self.customers.find_one({"_id": c, "deleted": deleted}, {"_id": 1}) for c in ids)
            )
            return {d["_id"] for d in docs if d is not None}
        for batch in chunks(ids, BATCH):
            async for doc in self.customers.find(
                {"_id": {"$in": list(batch)}, "deleted": deleted}, {"_id": 1}
            ):
                found.add(doc["_id"])
        return found

    async def unknown_customers(self, customer_ids: Sequence[str]) -> list[str]:
        """The ids of customers this service has not seen (or that were erased), in order."""
        known = await self._customers_among(customer_ids, deleted=False)
        return [c for c in customer_ids if c not in known]

    async def erased_among(self, customer_ids: Iterable[str]) -> set[str]:
        return await self._customers_among(list(customer_ids), deleted=True)

    async def known_customer(self, customer_id: str) -> KnownCustomer | None:
        return cast(KnownCustomer | None, await self.customers.find_one({"_id": customer_id}))

    # --- personal data (GDPR) -------------------------------------------------------------

    async def record_export(self, request_id: str, customer_id: str, events: list[dict[str, Any]]) -> bool:
        """The answer to one request, stored once with its event (False: answered before)."""
        record = cast(
            PersonalDataExport,
            {"_id": request_id, "customer_id": customer_id, "recorded_at": utcnow(), **pending(events)},
        )
        first = await insert_once(self.exports, record)
        if first:
            self._notify()
        return first

    async def _forget_exports(self, published: list[dict[str, Any]]) -> None:
        await self.exports.delete_many({"_id": {"$in": [d["_id"] for d in published]}})

    async def delete_published_exports_of(self, customer_id: str) -> None:
        """Answers a crash left after publishing them (one not yet published must still go out)."""
        await self.exports.delete_many({"customer_id": customer_id, "published": True})

    async def delete_versions_of(self, customer_id: str) -> None:
        await self.versions.delete_many({"customer_id": customer_id})

    async def plan_erasure(self, plan: ErasurePlan) -> ErasurePlan:
        """The plan of this customer's erasure: this one if first, else the one stored before."""
        if await insert_once(self.erasure_plans, plan):
            return plan
        return cast(ErasurePlan, await self.erasure_plans.find_one({"_id": plan["_id"]}) or plan)

    async def record_erased(self, customer_id: str, events: list[dict[str, Any]]) -> None:
        """personal_data.erased, stored once (a redelivered customer.deleted stores nothing)."""
        record = cast(ErasureRecord, {"_id": customer_id, "recorded_at": utcnow(), **pending(events)})
        if await insert_once(self.erasures, record):
            self._notify()

    # --- group deletions ------------------------------------------------------------------

    async def deletion_started(self, group_id: str) -> None:
        marker: GroupDeletion = {"_id": group_id, "started_at": utcnow()}
        await insert_once(self.deletions, marker)  # there already: a retried deletion

    async def deletion_done(self, group_id: str) -> None:
        await self.deletions.delete_one({"_id": group_id})

    async def stale_deletions(self, older_than: datetime) -> list[str]:
        return [d["_id"] async for d in self.deletions.find({"started_at": {"$lt": older_than}}).limit(100)]

    # --- price lists ----------------------------------------------------------------------

    async def add_price(self, entry: PriceDoc) -> None:
        """The entry and the event of its creation, in one insert."""
        await self.prices.insert_one(dict(entry))
        self._notify()

    async def price(self, price_id: str) -> PriceDoc | None:
        return cast(PriceDoc | None, await self.prices.find_one({"_id": price_id}))

    async def price_list(
        self, group_id: str, sku: str | None, after: str | None, limit: int
    ) -> list[PriceDoc]:
        """A group's entries by id; `sku` keeps those of that SKU (not those of every SKU)."""
        query: dict[str, Any] = {"group_id": group_id}
        if sku is not None:
            query["sku_key"] = sku
        if after is not None:
            query["_id"] = {"$gt": after}
        cursor = self.prices.find(query, {"outbox": 0}).sort("_id", ASCENDING).limit(limit)
        return cast(list[PriceDoc], await cursor.to_list())

    async def prices_for(self, group_ids: Sequence[str], sku: str) -> list[PriceDoc]:
        """The entries of these groups for `sku` or for every SKU: two equality lookups per
        group, each served by the (group_id, sku_key) index."""
        found = await asyncio.gather(
            *(
                self.prices.find({"group_id": g, "sku_key": key}, {"outbox": 0}).to_list()
                for g in group_ids
                for key in dict.fromkeys((sku, ALL_SKUS))
            )
        )
        return [cast(PriceDoc, d) for docs in found for d in docs]

    async def remove_price(self, entry: PriceDoc, events: list[dict[str, Any]]) -> bool:
        """Records the removal once (False: it was recorded already, by a retry or a concurrent
        call), then deletes the entry. A retry after a crash between the two deletes it then."""
        record: PriceRemoval = {
            "_id": f"{entry['id']}:removed",
            "group_id": entry["group_id"],
            "recorded_at": utcnow(),
            **pending(events),  # type: ignore[typeddict-item]
        }
        first = await insert_once(self.price_removals, record)
        await self.prices.delete_one({"_id": entry["id"]})
        if first:
            self._notify()
        return first

    async def delete_group_prices(self, group_id: str) -> None:
        await self.prices.delete_many({"group_id": group_id})

    # --- default groups -------------------------------------------------------------------

    async def claim_default(self, claim: DefaultGroupClaim) -> DefaultGroupClaim:
        """The claim of this default group: ours if we inserted it first, else the stored one."""
        if await insert_once(self.defaults, claim):
            return claim
        return cast(DefaultGroupClaim, await self.defaults.find_one({"_id": claim["_id"]}) or claim)

    async def default_done(self, key: str) -> None:
        await self.defaults.update_one({"_id": key}, {"$set": {"done": True}})

    async def group_ever_recorded(self, group_id: str) -> bool:
        """Whether any version of the group was ever recorded (a deleted one leaves its last)."""
        return await self.groups.changes.find_one({"doc_id": group_id}, {"_id": 1}) is not None
