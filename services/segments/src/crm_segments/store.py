"""Every query and index of the segments service.

Collections:
- `profiles`: one read model per customer (profiles.py), written by one writer per customer.
- `segments` / `segments_changes`: the segments, through VersionedStore (events in the change).
- `membership_changes`: the history of each (segment, customer) pair, one INSERTED document per
  transition with `_id` "<segment>|<customer>|<n>". Change n+1 is decided from the state at n, and
  the unique `_id` lets only one writer record it, so joins and leaves alternate: never two
  `joined` in a row, whatever runs concurrently. Each change carries its event (the outbox).
- `memberships`: the newest state of each pair {_id: "<segment>|<customer>", n, member}, kept
  for queries; only replaced by a higher n.
- `segment_runs`: which version of each segment the last batch computation covered.
- `groups`: the newest known name (and version) of each customer group.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from crm_segments.profiles import Profile
from crm_segments.rules.attributes import ATTRIBUTES
from crm_servicekit.outbox import OUTBOX_INDEXES, OutboxSource, ProjectedHere, pending
from crm_servicekit.versioned import VersionedStore

GONE = -1
"""segment_runs version of a deleted segment whose members have all left."""


class MembershipTaken(Exception):
    """Another writer recorded this transition first."""


def pair_id(segment_id: str, customer_id: str) -> str:
    return f"{segment_id}|{customer_id}"


class SegmentStore:
    def __init__(self, db: AsyncDatabase, notify: Any) -> None:
        self.profiles = db["profiles"]
        self.segments = VersionedStore(db, "segments", notify)
        self.changes = db["membership_changes"]
        self.memberships = db["memberships"]
        self.runs = db["segment_runs"]
        self.groups = db["groups"]
        self._notify = notify
        self._last = datetime.min.replace(tzinfo=UTC)
        self.projected_here = ProjectedHere()

    @property
    def indexes(self) -> dict[str, list[IndexModel]]:
        # One index per attribute a rule may filter on; lists get multikey indexes.
        attribute_indexes = [IndexModel([(a, ASCENDING)]) for a in ATTRIBUTES if a != "email"]
        return {
            **self.segments.indexes,
            "profiles": [*attribute_indexes, IndexModel([("group_ids", ASCENDING)])],
            "membership_changes": [
                IndexModel([("segment_id", ASCENDING), ("customer_id", ASCENDING), ("n", DESCENDING)]),
                IndexModel([("customer_id", ASCENDING)]),
                *OUTBOX_INDEXES,
            ],
            "memberships": [
                IndexModel([("segment_id", ASCENDING), ("member", ASCENDING), ("customer_id", ASCENDING)]),
                IndexModel([("customer_id", ASCENDING), ("member", ASCENDING), ("segment_id", ASCENDING)]),
            ],
            "segment_runs": [],
            "groups": [],
        }

    def outbox_sources(self, project: Any) -> list[OutboxSource]:
        """`project(change)` brings `memberships` up to a published change (after a crash)."""

        async def project_each(changes: list[dict[str, Any]]) -> None:
            for change in changes:
                if not self.projected_here.take(change["_id"]):
                    await project(change)

        return [self.segments.outbox_source(), OutboxSource(self.changes, after_publish=project_each)]

    # profiles ----------------------------------------------------------------------------

    async def profile(self, customer_id: str) -> Profile | None:
        return await self.profiles.find_one({"_id": customer_id})

    async def save_profile(self, profile: Profile) -> None:
        """Only called by the one writer of this customer (the per-customer lock)."""
        await self.profiles.replace_one({"_id": profile["_id"]}, profile, upsert=True)

    async def customers_in_group(self, group_id: str) -> list[str]:
        return [d["_id"] async for d in self.profiles.find({"group_ids": group_id}, {"_id": 1})]

    def stream_profiles(
        self, query: dict[str, Any], projection: dict[str, int] | None = None, after: str | None = None
    ) -> Any:
        if after is not None:
            query = {"$and": [query, {"_id": {"$gt": after}}]}
        return self.profiles.find(query, projection).sort("_id", ASCENDING).batch_size(500)

    async def count_profiles(self, query: dict[str, Any]) -> int:
        return await self.profiles.count_documents(query)

    async def profiles_by_id(self, ids: list[str]) -> dict[str, Profile]:
        return {d["_id"]: d async for d in self.profiles.find({"_id": {"$in": ids}})}

    # groups --------------------------------------------------------------------------------

    async def group(self, group_id: str) -> dict[str, Any] | None:
        return await self.groups.find_one({"_id": group_id})

    async def save_group(self, doc: dict[str, Any]) -> None:
        await self.groups.replace_one({"_id": doc["_id"]}, doc, upsert=True)

    # segments ------------------------------------------------------------------------------

    async def segment(self, segment_id: str) -> dict[str, Any] | None:
        return await self.segments.get(segment_id)

    async def all_segments(self) -> list[dict[str, Any]]:
        return await self.segments.current.find({}).sort("_id", ASCENDING).to_list()

    async def list_segments(self, after: str | None, limit: int) -> list[dict[str, Any]]:
        query = {"_id": {"$gt": after}} if after else {}
        return await self.segments.current.find(query).sort("_id", ASCENDING).limit(limit).to_list()

    async def run_of(self, segment_id: str) -> dict[str, Any] | None:
        return await self.runs.find_one({"_id": segment_id})

    async def all_runs(self) -> list[dict[str, Any]]:
        return await self.runs.find({}).to_list()

    async def remember_name(self, segment_id: str, name: str) -> None:
        """Before a deletion: the name the `left` events will carry once the segment is gone."""
        await self.runs.update_one({"_id": segment_id}, {"$set": {"name": name}}, upsert=True)

    async def mark_run(self, segment_id: str, version: int, name: str) -> None:
        await self.runs.replace_one(
            {"_id": segment_id},
            {"_id": segment_id, "version": version, "name": name, "at": datetime.now(UTC)},
            upsert=True,
        )

    # memberships ---------------------------------------------------------------------------

    async def membership(self, segment_id: str, customer_id: str) -> dict[str, Any] | None:
        return await self.memberships.find_one({"_id": pair_id(segment_id, customer_id)})

    async def memberships_of(self, customer_id: str) -> dict[str, dict[str, Any]]:
        return {d["segment_id"]: d async for d in self.memberships.find({"customer_id": customer_id})}

    async def record_transition(
        self, segment_id: str, customer_id: str, n: int, member: bool, event: dict[str, Any]
    ) -> dict[str, Any]:
        """Records change n of the pair; raises MembershipTaken if it exists already."""
        change = {
            "_id": f"{pair_id(segment_id, customer_id)}|{n}",
            "segment_id": segment_id,
            "customer_id": customer_id,
            "n": n,
            "member": member,
            "recorded_at": self._tick(),
            **pending([event]),
        }
        try:
            await self.changes.insert_one(change)
        except DuplicateKeyError:
            raise MembershipTaken(pair_id(segment_id, customer_id)) from None
        await self.project(change)
        self.projected_here.mark(change["_id"])
        self._notify()
        return change

    def _tick(self) -> datetime:
        """Strictly increasing at MongoDB's millisecond precision: the relay publishes in
        `recorded_at` order, so a pair's join and leave go out in the order they happened."""
        now = datetime.now(UTC)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        self._last = max(now, self._last + timedelta(milliseconds=1))
        return self._last

    async def latest_change(self, segment_id: str, customer_id: str) -> dict[str, Any] | None:
        return await self.changes.find_one(
            {"segment_id": segment_id, "customer_id": customer_id},
            sort=[("n", DESCENDING)],
            projection={"outbox": 0},
        )

    async def project(self, change: dict[str, Any]) -> None:
        """Brings the pair's current state up to `change` unless a newer one is there."""
        doc = {
            "_id": pair_id(change["segment_id"], change["customer_id"]),
            "segment_id": change["segment_id"],
            "customer_id": change["customer_id"],
            "n": change["n"],
            "member": change["member"],
            "since": change["recorded_at"],
        }
        try:
            await self.memberships.replace_one({"_id": doc["_id"], "n": {"$lt": doc["n"]}}, doc, upsert=True)
        except DuplicateKeyError:
            pass  # the projection already holds this or a newer change

    async def scrub_published(self, customer_id: str) -> None:
        """After an erasure: published events about the customer keep no copy of their e-mail."""
        await self.changes.update_many(
            {"customer_id": customer_id, "published": True}, {"$set": {"outbox": []}}
        )

    def member_ids(self, segment_id: str) -> Any:
        return (
            self.memberships.find({"segment_id": segment_id, "member": True}, {"customer_id": 1})
            .sort("customer_id", ASCENDING)
            .batch_size(1000)
        )

    async def members_page(self, segment_id: str, after: str | None, limit: int) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"segment_id": segment_id, "member": True}
        if after:
            query["customer_id"] = {"$gt": after}
        return await self.memberships.find(query).sort("customer_id", ASCENDING).limit(limit).to_list()

    async def segments_of_page(self, customer_id: str, after: str | None, limit: int) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"customer_id": customer_id, "member": True}
        if after:
            query["segment_id"] = {"$gt": after}
        return await self.memberships.find(query).sort("segment_id", ASCENDING).limit(limit).to_list()

    async def member_count(self, segment_id: str) -> int:
        return await self.memberships.count_documents({"segment_id": segment_id, "member": True})
