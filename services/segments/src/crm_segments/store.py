"""Every query and index of the segments service; what each document holds is in
domain/documents.py.

Collections:
- `profiles` / `profiles_changes`: one read model per customer (domain/profiles.py), through
  VersionedStore: every change is INSERTED as `profiles_changes` {_id: "<customer>:<version>",
  state}, so of two writers of one version (two processes, one event each) one conflicts and
  retries on fresh state; `profiles` is the projection every query reads, only ever replaced by a
  higher version. The change records carry no events (nothing to publish).
- `segments` / `segments_changes`: the segments, through VersionedStore (events in the change).
- `membership_changes`: the history of each (segment, customer) pair, one INSERTED document per
  transition with `_id` "<segment>|<customer>|<n>". Change n+1 is decided from the state at n, and
  the unique `_id` lets only one writer record it, so joins and leaves alternate: never two
  `joined` in a row, whatever runs concurrently. Each change carries its event (the outbox).
- `memberships`: the newest state of each pair {_id: "<segment>|<customer>", n, member}, kept
  for queries; only replaced by a higher n.
- `segment_runs`: which version of each segment the last batch computation covered.
- `groups`: the newest known name (and version) of each customer group.
- `pending_checkouts`: checkout.abandoned events of e-mails no profile has yet, by checkout id.
- `orders`: one INSERTED fact per order.placed / .refunded / .cancelled (domain/orders.py), read
  by the analytics per period; anonymised (customer id replaced, e-mail key removed) on erasure.
- `marketing_spend`: money spent per channel and period, entered by staff (CAC).
- `personal_data`: answers to personal_data.requested and confirmations of erasures, each
  inserted once with its event (the outbox).

Queries on profiles take a rule's compiled MongoDB filter (or None: every customer) and add
"active" here, so only customers that exist are ever counted or listed.
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from crm_segments.domain.analytics import RFM_FIELDS
from crm_segments.domain.documents import (
    Group,
    MarketingSpend,
    MembershipChange,
    MembershipState,
    OrderFact,
    PendingCheckout,
    PersonalDataRecord,
    Profile,
    ProfileFigures,
    Segment,
    SegmentRun,
)
from crm_segments.domain.membership import pair_id
from crm_segments.domain.orders import CANCELLED, PLACED, REFUNDED
from crm_segments.domain.period import PROFILE_FIELDS, ScopeProfile
from crm_segments.domain.rules.attributes import FIELDS
from crm_servicekit.clock import now_ms
from crm_servicekit.mongo import insert_once
from crm_servicekit.outbox import OUTBOX_INDEXES, RELAY_ID, OutboxSource, ProjectedHere, pending
from crm_servicekit.versioned import VersionedStore

Filter = dict[str, Any]
"""A MongoDB filter, as compiled from a rule (domain/rules/compile.py)."""


class MembershipTaken(Exception):
    """Another writer recorded this transition first."""


def _active(rule_filter: Filter | None) -> Filter:
    if rule_filter is None:
        return {"active": True}
    return {"$and": [{"active": True}, rule_filter]}


def _buyers(rule_filter: Filter | None) -> Filter:
    return {
        "$and": [_active(rule_filter), {"number_of_orders": {"$gt": 0}}, {"last_order_date": {"$ne": None}}]
    }


def _after(query: Filter, after: str | None) -> Filter:
    return query if after is None else {"$and": [query, {"_id": {"$gt": after}}]}


class SegmentStore:
    def __init__(self, db: AsyncDatabase, notify: Callable[[], None]) -> None:
        # No notify: a profile change has no events, so the relay need not wake up for it.
        self.profile_versions = VersionedStore(db, "profiles")
        self.profiles = self.profile_versions.current
        self.segments = VersionedStore(db, "segments", notify)
        self.changes = db["membership_changes"]
        self.memberships = db["memberships"]
        self.runs = db["segment_runs"]
        self.groups = db["groups"]
        self.pending_checkouts = db["pending_checkouts"]
        self.orders = db["orders"]
        self.spend = db["marketing_spend"]
        self.personal_data = db["personal_data"]
        self._notify = notify
        self._last = datetime.min.replace(tzinfo=UTC)
        self.projected_here = ProjectedHere()

    @property
    def indexes(self) -> dict[str, list[IndexModel]]:
        # One index per attribute a rule may filter on; lists get multikey indexes.
        attribute_indexes = [IndexModel([(a, ASCENDING)]) for a in FIELDS if a != "email"]
        return {
            **self.segments.indexes,
            **self.profile_versions.indexes,
            "profiles": [
                *attribute_indexes,
                IndexModel([("group_ids", ASCENDING)]),
                IndexModel([("email_key", ASCENDING)]),
            ],
            "pending_checkouts": [IndexModel([("email_key", ASCENDING)])],
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
            "orders": [
                IndexModel([("kind", ASCENDING), ("at", ASCENDING)]),
                IndexModel([("customer_id", ASCENDING)]),
                IndexModel([("email_key", ASCENDING)]),
            ],
            "marketing_spend": [],
            "personal_data": [IndexModel([("customer_id", ASCENDING)]), *OUTBOX_INDEXES],
        }

    def outbox_sources(self, project: Callable[[MembershipChange], Awaitable[None]]) -> list[OutboxSource]:
        """`project(change)` brings `memberships` up to a published change (after a crash)."""

        async def project_each(changes: list[dict[str, Any]]) -> None:
            for change in changes:
                if not self.projected_here.take(change["_id"]):
                    await project(cast(MembershipChange, change))

        return [
            self.segments.outbox_source(),
            # Profile changes have nothing to publish: the source is there for the retention job.
            self.profile_versions.outbox_source(),
            OutboxSource(self.changes, after_publish=project_each),
            OutboxSource(self.personal_data, ordered=False),
        ]

    # profiles ----------------------------------------------------------------------------

    async def profile(self, customer_id: str) -> Profile | None:
        return cast(Profile | None, await self.profiles.find_one({"_id": customer_id}))

    async def profile_to_change(self, customer_id: str, probe: bool = True) -> tuple[Profile | None, bool]:
        """The newest profile and whether the projection lags behind it (a writer between
        recording and projecting, or one that stopped there). Two reads by `_id`: the
        projection, then the change record of the version after it (VersionedStore.get).
        `probe=False`: the projection alone, for a caller that checks its decision itself."""
        doc = await self.profiles.find_one({"_id": customer_id})
        if doc is not None and "version" not in doc:
            # Stored before profiles had versions: version 0, so that version 1 can replace it.
            await self.profiles.update_one(
                {"_id": customer_id, "version": {"$exists": False}}, {"$set": {"version": 0}}
            )
            doc["version"] = 0
        if not probe:
            return cast(Profile | None, doc), False
        newest = await self._newer(customer_id, doc["version"] if doc else 0)
        return (newest, True) if newest is not None else (cast(Profile | None, doc), False)

    async def newer_profile(self, profile: Profile) -> Profile | None:
        """The newest recorded version of the customer's profile if it is newer than `profile`,
        else None (one read by `_id` when there is none)."""
        return await self._newer(profile["_id"], profile.get("version", 0))

    async def _newer(self, customer_id: str, version: int) -> Profile | None:
        newest = None
        while True:
            change = await self.profile_versions.changes.find_one(
                {"_id": f"{customer_id}:{version + 1}"}, projection={"outbox": 0}
            )
            if change is None or change["state"] is None:
                return newest
            newest, version = cast(Profile, change["state"]), version + 1

    async def commit_profile(self, profile: Profile) -> None:
        """Records `profile` as its `version`, then projects it. Raises VersionConflict (and
        changes nothing) if another writer recorded that version first. A tombstone (erasure)
        also deletes the older versions: they hold the personal data."""
        version = profile.get("version", 0)
        await self.profile_versions.commit(profile["_id"], version, cast(dict[str, Any], profile), [])
        if profile["deleted"]:
            await self.profile_versions.changes.delete_many(
                {"doc_id": profile["_id"], "version": {"$lt": version}}
            )

    async def project_profile(self, profile: Profile) -> None:
        """Brings the projection up to `profile` (a recorded version) unless it holds a newer one."""
        await self.profile_versions.project(
            profile["_id"], profile.get("version", 0), cast(dict[str, Any], profile)
        )

    async def profiles_before_upgrade(self) -> list[str]:
        """Ids of profiles stored before the fields of Shopify's filters (no `email_key`)."""
        return [d["_id"] async for d in self.profiles.find({"email_key": {"$exists": False}}, {"_id": 1})]

    async def customer_with_email(self, key: str) -> str | None:
        """The id of the existing customer whose e-mail key is `key`, if any."""
        d = await self.profiles.find_one({"email_key": key, "active": True}, {"_id": 1})
        return None if d is None else str(d["_id"])

    async def keep_pending_checkout(self, checkout: PendingCheckout) -> None:
        try:
            await self.pending_checkouts.insert_one(dict(checkout))
        except DuplicateKeyError:
            pass  # the same checkout again

    async def pending_checkouts_of(self, key: str) -> list[PendingCheckout]:
        return cast(list[PendingCheckout], await self.pending_checkouts.find({"email_key": key}).to_list())

    async def forget_pending_checkouts(self, checkout_ids: list[str]) -> None:
        for checkout_id in checkout_ids:  # few; by _id, what FerretDB serves by index
            await self.pending_checkouts.delete_one({"_id": checkout_id})

    async def customers_in_group(self, group_id: str) -> list[str]:
        return [d["_id"] async for d in self.profiles.find({"group_ids": group_id}, {"_id": 1})]

    def _stream(
        self, query: Filter, projection: dict[str, int] | None = None, after: str | None = None
    ) -> Any:
        """Profiles by customer id, in batches: streamed, never all held in memory."""
        return self.profiles.find(_after(query, after), projection).sort("_id", ASCENDING).batch_size(500)

    async def matching_ids(self, rule_filter: Filter) -> AsyncIterator[str]:
        """Ids of the active customers the rule selects, in order."""
        async for d in self._stream(_active(rule_filter), {"_id": 1}):
            yield d["_id"]

    async def count_matching(self, rule_filter: Filter | None) -> int:
        return await self.profiles.count_documents(_active(rule_filter))

    async def sample_matching(self, rule_filter: Filter | None, limit: int) -> list[Profile]:
        return cast(list[Profile], await self._stream(_active(rule_filter)).limit(limit).to_list())

    async def figures(
        self, rule_filter: Filter | None, fields: dict[str, int]
    ) -> AsyncIterator[ProfileFigures]:
        """The `fields` (analytics) of the active customers the rule selects (None: all)."""
        async for d in self._stream(_active(rule_filter), fields):
            yield cast(ProfileFigures, d)

    async def buyer_figures_page(
        self, rule_filter: Filter | None, after: str | None, limit: int
    ) -> list[ProfileFigures]:
        """RFM fields of the buyers among them (at least one order), by customer id."""
        rows = await self._stream(_buyers(rule_filter), RFM_FIELDS, after).limit(limit).to_list()
        return cast(list[ProfileFigures], rows)

    async def profiles_by_id(self, ids: list[str]) -> dict[str, Profile]:
        return {d["_id"]: cast(Profile, d) async for d in self.profiles.find({"_id": {"$in": ids}})}

    # groups --------------------------------------------------------------------------------

    async def group(self, group_id: str) -> Group | None:
        return cast(Group | None, await self.groups.find_one({"_id": group_id}))

    async def save_group(self, group: Group) -> None:
        await self.groups.replace_one({"_id": group["_id"]}, group, upsert=True)

    # segments ------------------------------------------------------------------------------

    async def segment(self, segment_id: str) -> Segment | None:
        return cast(Segment | None, await self.segments.get(segment_id))

    async def all_segments(self) -> list[Segment]:
        return cast(list[Segment], await self.segments.current.find({}).sort("_id", ASCENDING).to_list())

    async def list_segments(self, after: str | None, limit: int) -> list[Segment]:
        query = {"_id": {"$gt": after}} if after else {}
        rows = await self.segments.current.find(query).sort("_id", ASCENDING).limit(limit).to_list()
        return cast(list[Segment], rows)

    async def record_segment(
        self, segment_id: str, version: int, segment: Segment | None, events: list[dict[str, Any]]
    ) -> None:
        """Version `version` of the segment (None: deleted) with its events; raises
        VersionConflict if another writer recorded that version first."""
        # A TypedDict is a plain dict at run time: VersionedStore stores it as it is.
        await self.segments.commit(segment_id, version, cast(dict[str, Any] | None, segment), events)

    async def run_of(self, segment_id: str) -> SegmentRun | None:
        return cast(SegmentRun | None, await self.runs.find_one({"_id": segment_id}))

    async def all_runs(self) -> list[SegmentRun]:
        return cast(list[SegmentRun], await self.runs.find({}).to_list())

    async def remember_name(self, segment_id: str, name: str) -> None:
        """Before a deletion: the name the `left` events will carry once the segment is gone."""
        await self.runs.update_one({"_id": segment_id}, {"$set": {"name": name}}, upsert=True)

    async def mark_run(self, segment_id: str, version: int, name: str) -> None:
        run: SegmentRun = {"_id": segment_id, "version": version, "name": name, "at": datetime.now(UTC)}
        await self.runs.replace_one({"_id": segment_id}, run, upsert=True)

    # memberships ---------------------------------------------------------------------------

    async def memberships_of(self, customer_id: str) -> dict[str, MembershipChange]:
        """The newest recorded transition of each of the customer's pairs: what a decision
        starts from. Not the `memberships` projection, which can be behind for a moment
        (FerretDB's replace is read-then-write, so a late projection of an older transition
        can land after a newer one until its writer's probe repairs it), and a decision of
        "no change" on a stale state would never meet the unique n that reveals it. One read
        by the indexed customer id (transitions are never pruned)."""
        newest: dict[str, MembershipChange] = {}
        async for d in self.changes.find({"customer_id": customer_id}, {"outbox": 0}):
            known = newest.get(d["segment_id"])
            if known is None or d["n"] > known["n"]:
                newest[d["segment_id"]] = cast(MembershipChange, d)
        return newest

    async def record_transition(
        self, segment_id: str, customer_id: str, n: int, member: bool, event: dict[str, Any]
    ) -> MembershipChange:
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
        recorded = cast(MembershipChange, change)
        await self.project(recorded)
        self.projected_here.mark(recorded["_id"])
        self._notify()
        return recorded

    def _tick(self) -> datetime:
        """Strictly increasing at MongoDB's millisecond precision: the relay publishes in
        `recorded_at` order, so a pair's join and leave go out in the order they happened."""
        self._last = max(now_ms(), self._last + timedelta(milliseconds=1))
        return self._last

    async def latest_change(self, segment_id: str, customer_id: str) -> MembershipChange | None:
        change = await self.changes.find_one(
            {"segment_id": segment_id, "customer_id": customer_id},
            sort=[("n", DESCENDING)],
            projection={"outbox": 0},
        )
        return cast(MembershipChange | None, change)

    async def project(self, change: MembershipChange) -> None:
        """Brings the pair's current state up to `change`, or to a newer one. As in
        VersionedStore.project: an older change's write that read before ours can land after
        it, so every writer probes for the next change after writing and projects it; whoever
        writes last sees the newest, and the projection never stays behind."""
        pair = pair_id(change["segment_id"], change["customer_id"])
        current: MembershipChange | None = change
        while current is not None:
            doc: MembershipState = {
                "_id": pair,
                "segment_id": current["segment_id"],
                "customer_id": current["customer_id"],
                "n": current["n"],
                "member": current["member"],
                "since": current["recorded_at"],
            }
            try:
                await self.memberships.replace_one({"_id": pair, "n": {"$lt": doc["n"]}}, doc, upsert=True)
            except DuplicateKeyError:
                pass  # the projection holds this or a newer change (its writer probes too)
            current = cast(
                MembershipChange | None,
                await self.changes.find_one({"_id": f"{pair}|{doc['n'] + 1}"}, {"outbox": 0}),
            )

    async def scrub_published(self, customer_id: str) -> None:
        """After an erasure: published events about the customer keep no copy of their e-mail."""
        await self.changes.update_many(
            {"customer_id": customer_id, "published": True}, {"$set": {"outbox": []}}
        )

    async def member_ids(self, segment_id: str) -> AsyncIterator[str]:
        """Ids of the segment's members, in order, streamed."""
        cursor = (
            self.memberships.find({"segment_id": segment_id, "member": True}, {"customer_id": 1})
            .sort("customer_id", ASCENDING)
            .batch_size(1000)
        )
        async for d in cursor:
            yield d["customer_id"]

    async def members_page(self, segment_id: str, after: str | None, limit: int) -> list[MembershipState]:
        query: Filter = {"segment_id": segment_id, "member": True}
        if after:
            query["customer_id"] = {"$gt": after}
        rows = await self.memberships.find(query).sort("customer_id", ASCENDING).limit(limit).to_list()
        return cast(list[MembershipState], rows)

    async def segments_of_page(
        self, customer_id: str, after: str | None, limit: int
    ) -> list[MembershipState]:
        query: Filter = {"customer_id": customer_id, "member": True}
        if after:
            query["segment_id"] = {"$gt": after}
        rows = await self.memberships.find(query).sort("segment_id", ASCENDING).limit(limit).to_list()
        return cast(list[MembershipState], rows)

    async def member_count(self, segment_id: str) -> int:
        return await self.memberships.count_documents({"segment_id": segment_id, "member": True})

    # orders (analytics per period) -------------------------------------------------------

    async def record_order_fact(self, fact: OrderFact) -> bool:
        """One insert; False if this fact was recorded already (a redelivered or re-sent event)."""
        return await insert_once(self.orders, fact)

    async def order_adjustments(self) -> AsyncIterator[OrderFact]:
        """Every refund and cancellation (few beside the orders), streamed."""
        for kind in (REFUNDED, CANCELLED):
            async for d in self.orders.find({"kind": kind}, {"items": 0}).batch_size(1000):
                yield cast(OrderFact, d)

    async def orders_before(self, end: datetime) -> AsyncIterator[OrderFact]:
        """The placed orders before `end`, oldest first, streamed."""
        cursor = self.orders.find({"kind": PLACED, "at": {"$lt": end}}).sort("at", ASCENDING).batch_size(500)
        async for d in cursor:
            yield cast(OrderFact, d)

    async def scope_profiles(self, rule_filter: Filter | None) -> AsyncIterator[ScopeProfile]:
        """What the analytics per period read of the active customers in scope."""
        async for d in self._stream(_active(rule_filter), PROFILE_FIELDS):
            yield cast(ScopeProfile, d)

    async def orders_of(self, customer_id: str, key: str | None) -> list[OrderFact]:
        """The order facts of one customer: named by id, or by e-mail (a personal-data export)."""
        found = {d["_id"]: d async for d in self.orders.find({"customer_id": customer_id})}
        if key:
            found.update({d["_id"]: d async for d in self.orders.find({"email_key": key})})
        return cast(list[OrderFact], sorted(found.values(), key=lambda d: (d["at"], d["_id"])))

    async def anonymise_orders(self, customer_id: str, key: str | None, token: str) -> int:
        """After an erasure: the facts keep their figures, not who the customer was."""
        anonymous = {"$set": {"customer_id": token, "email_key": None}}
        changed = (await self.orders.update_many({"customer_id": customer_id}, anonymous)).modified_count
        if key:
            changed += (await self.orders.update_many({"email_key": key}, anonymous)).modified_count
        return changed

    async def reassign_orders(self, from_customer: str, to_customer: str) -> int:
        """After a merge: the merged record's order facts count for the record kept."""
        moved = await self.orders.update_many(
            {"customer_id": from_customer}, {"$set": {"customer_id": to_customer}}
        )
        return moved.modified_count

    async def membership_history(self, customer_id: str) -> list[MembershipChange]:
        rows = await self.changes.find({"customer_id": customer_id}, {"outbox": 0}).to_list()
        return cast(list[MembershipChange], sorted(rows, key=lambda c: (c["segment_id"], c["n"])))

    # marketing spend -----------------------------------------------------------------------

    async def add_spend(self, spend: MarketingSpend) -> None:
        await self.spend.insert_one(dict(spend))

    async def spend_entry(self, spend_id: str) -> MarketingSpend | None:
        return cast(MarketingSpend | None, await self.spend.find_one({"_id": spend_id}))

    async def all_spend(self) -> list[MarketingSpend]:
        """Configuration-sized: a few entries per channel and month."""
        return cast(list[MarketingSpend], await self.spend.find({}).sort("_id", ASCENDING).to_list())

    async def spend_page(self, after: str | None, limit: int) -> list[MarketingSpend]:
        query = {"_id": {"$gt": after}} if after else {}
        return cast(
            list[MarketingSpend], await self.spend.find(query).sort("_id", ASCENDING).limit(limit).to_list()
        )

    async def replace_spend(self, spend: MarketingSpend) -> None:
        await self.spend.replace_one({"_id": spend["_id"]}, spend)

    async def delete_spend(self, spend_id: str) -> bool:
        return (await self.spend.delete_one({"_id": spend_id})).deleted_count == 1

    # personal data -------------------------------------------------------------------------

    async def record_personal_data(self, record: PersonalDataRecord) -> None:
        """Inserted once with its event; the same record again publishes the stored event again
        (same event id), never a different one."""
        if not await insert_once(self.personal_data, record):
            await self.personal_data.update_one(
                {"_id": record["_id"]}, {"$set": {"published": False, "relay": RELAY_ID}}
            )
        self._notify()
