"""Every query and index of the ledger: the account journal, the reward states and coupon
codes, the customer directory. Documents come back typed (domain.documents).

`journal` holds the account records (domain.account: entries, hold records, and `rejection`
records that change nothing but make a refused debit of an event as final as a booked one),
append-only: {_id: record id (deterministic: from the event id, the Idempotency-Key, the hold
or the expiring lot), account, sequence, ...}. Two unique keys make it exactly-once and
overdraft-free on FerretDB, whose updates are not atomic: `_id` (the same cause twice is one
record) and (account, sequence) (two writers that decided from the same state cannot both
append). FerretDB's duplicate-key error does not name the index, so after one we look the
record id up: found = replay, otherwise = lost the race. Each record is also an outbox document
(its events, `published`, `recorded_at`).

What people write about a record (`reason`, `operator`) is kept apart in `entry_notes`, keyed by
the record id: erasing a customer deletes those notes and never rewrites a journal record. (An
update of a journal record could also lose a concurrent one: FerretDB's updates read and write
back the whole document, and the outbox relay sets `published` on these same documents.)

Reward states are versioned documents (crm_servicekit.versioned, `rewards`); `coupon_codes`
says whose state holds a code. The directory (`customer_emails`, `parked_points`) is which
customer an order belongs to, as the ledger learns it from customer events: orders name
`customer.customer_id` only when the shopper is logged in; otherwise the id is found by e-mail.
`known_customers` is the ledger's copy of each customer (e-mail, birthday, consent) at its
newest version, whatever order the customer events are handled in (crm_servicekit.copies, with
`known_customer_versions`).
"""

import asyncio
import random
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from crm_contracts.names import EventType
from crm_contracts.types import email_key
from crm_ledger.domain import (
    AccountState,
    BirthdayReward,
    Change,
    Contention,
    Coupon,
    CreditLine,
    DirectoryEntry,
    EntryNote,
    ErasedCustomer,
    GroupTerms,
    JournalRecord,
    KnownCustomer,
    MembershipChange,
    MergedCustomer,
    Note,
    OrderPoints,
    ParkedPoints,
    PendingReversal,
    PointsExpiry,
    PointsReversal,
    ProgrammeVersion,
    Referral,
    ReferralCode,
    RewardState,
    rewards,
)
from crm_servicekit.clock import now_ms
from crm_servicekit.copies import VERSION_INDEXES, VersionedCopy
from crm_servicekit.mongo import IndexSpec, insert_many_once, insert_once
from crm_servicekit.outbox import OUTBOX_INDEXES, OutboxSource, pending
from crm_servicekit.versioned import VersionedStore

INDEXES: IndexSpec = {
    "journal": [
        IndexModel([("account", ASCENDING), ("sequence", DESCENDING)], unique=True),
        IndexModel([("customer_id", ASCENDING), ("at", DESCENDING), ("sequence", DESCENDING)]),
        IndexModel([("hold_id", ASCENDING)]),
        IndexModel([("next_deadline", ASCENDING)]),
        *OUTBOX_INDEXES,
    ],
    "entry_notes": [IndexModel([("customer_id", ASCENDING)])],
    "coupon_codes": [],
    "order_points": [IndexModel([("customer_id", ASCENDING)])],
    "referral_codes": [],
    "referrals": [IndexModel([("referrer_id", ASCENDING)])],
    "points_reversals": [],
    "pending_reversals": [IndexModel([("order_key", ASCENDING)]), IndexModel([("email_key", ASCENDING)])],
    "customer_emails": [IndexModel([("customer_id", ASCENDING)])],
    "parked_points": [IndexModel([("email_key", ASCENDING)])],
    "known_customers": [IndexModel([("birthday", ASCENDING)]), IndexModel([("referral_code", ASCENDING)])],
    "known_customer_versions": VERSION_INDEXES,
    "erased_customers": [],
    "merged_customers": [],
    "reward_programmes": [],
    "birthday_rewards": [],
    "points_expiries": [],
    "personal_data_answers": [*OUTBOX_INDEXES],
    "group_terms": [IndexModel([("group_id", ASCENDING)])],
    "group_memberships": [IndexModel([("customer_id", ASCENDING)]), IndexModel([("group_id", ASCENDING)])],
}
"""The collections named here; the versioned `rewards` add theirs (Store.indexes)."""

PERSONAL = ("reason", "operator")

Decide = Callable[[AccountState], Change]
Events = Callable[[JournalRecord], list[dict[str, Any]]]


def account_key(customer_id: str, currency: str) -> str:
    return f"{customer_id}:{currency}"


class Journal:
    def __init__(self, db: AsyncDatabase, notify: Callable[[], None]) -> None:
        self.records = db["journal"]
        self.notes = db["entry_notes"]
        self._notify = notify

    def outbox_source(self) -> OutboxSource:
        # Entries carry the account's sequence: consumers keep the highest, in any order.
        return OutboxSource(self.records, ordered=False)

    async def get(self, record_id: str) -> JournalRecord | None:
        doc = await self.records.find_one({"_id": record_id}, projection={"outbox": 0})
        return (await self._with_notes([doc]))[0] if doc else None

    async def _with_notes(self, docs: list[dict[str, Any]]) -> list[JournalRecord]:
        ids = [d["_id"] for d in docs]
        notes = {n["_id"]: n for n in await self.notes.find({"_id": {"$in": ids}}).to_list()}
        for d in docs:
            note = notes.get(d["_id"], {})
            d.update({k: note.get(k) for k in PERSONAL})
        return cast(list[JournalRecord], docs)

    async def _note(self, record_id: str, customer_id: str, note: Note) -> None:
        """Written before the record (a crash in between leaves an orphan note, never a
        record without its note); the record id makes a retry write the same note."""
        if any(note.values()):
            doc: EntryNote = {"_id": record_id, "customer_id": customer_id, **note}
            await insert_once(self.notes, doc)

    async def latest(self, account: str) -> JournalRecord | None:
        doc = await self.records.find_one(
            {"account": account}, sort=[("sequence", DESCENDING)], projection={"outbox": 0}
        )
        return cast(JournalRecord | None, doc)

    async def append(
        self,
        customer_id: str,
        currency: str,
        record_id: str,
        decide: Decide,
        events: Events,
        tries: int = 200,
        look_up_first: bool = True,
    ) -> tuple[JournalRecord, bool]:
        """Appends the record `decide` makes from the newest state, once per `record_id`.
        Returns (record, replayed). Domain errors raised by `decide` propagate and nothing
        is written; Contention after `tries` lost races.

        `look_up_first=False` (one read less) for a `decide` that never raises and a record
        without a note (the event paths): a replay is then decided again on the newest state,
        and the insert, refused by the unique `_id`, finds the first record and returns it."""
        account = account_key(customer_id, currency)
        for attempt in range(tries):
            state = AccountState.after(await self.latest(account), currency)
            # Looked up after the state was read: a duplicate that committed in between is
            # then either seen here or makes our insert below fail.
            existing = await self.get(record_id) if look_up_first or attempt else None
            if existing is not None:
                return existing, True
            change = decide(state)
            new = change.state
            note: Note = {"reason": change.fields.get("reason"), "operator": change.fields.get("operator")}
            doc: dict[str, Any] = {
                "_id": record_id,
                "account": account,
                "customer_id": customer_id,
                "currency": currency,
                "sequence": state.sequence + 1,
                "type": change.type,
                "kind": change.kind,
                "amount": change.amount,
                "balance_after": new.balance,
                "available_after": new.available,
                "state": new.to_doc(),
                "next_deadline": new.next_deadline,
                "at": now_ms(),
                **{k: v for k, v in change.fields.items() if k not in PERSONAL},
            }
            doc["recorded_at"] = doc["at"]
            doc.update(pending(events(cast(JournalRecord, doc))))
            await self._note(record_id, customer_id, note)
            try:
                await self.records.insert_one(doc)
            except DuplicateKeyError:
                if (existing := await self.get(record_id)) is not None:
                    return existing, True
                # Lost the race for this sequence: decide again on the new state, after a
                # short random pause so that the losers do not collide again in lockstep.
                await asyncio.sleep(random.uniform(0, 0.002 * min(attempt + 1, 25)))
                continue
            self._notify()
            doc.pop("outbox", None)
            return cast(JournalRecord, {**doc, **note}), False
        raise Contention(account)

    # -- reads ---------------------------------------------------------------------------
    async def accounts_of(self, customer_id: str) -> list[JournalRecord]:
        """The newest record of each of the customer's accounts."""
        currencies = await self.records.distinct("currency", {"customer_id": customer_id})
        out = []
        for currency in sorted(currencies):
            latest = await self.latest(account_key(customer_id, currency))
            if latest:
                out.append(latest)
        return out

    async def entries(
        self,
        customer_id: str,
        limit: int,
        after: tuple[datetime, int, str] | None,
        kind: str | None,
        currency: str | None,
    ) -> list[JournalRecord]:
        """Entries newest first, without their state; `after` = (at, sequence, _id) of the
        last one already shown."""
        query: dict[str, Any] = {"customer_id": customer_id, "type": "entry"}
        if kind:
            query["kind"] = kind
        if currency:
            query["currency"] = currency
        if after:
            at, seq, rid = after
            query["$or"] = [
                {"at": {"$lt": at}},
                {"at": at, "sequence": {"$lt": seq}},
                {"at": at, "sequence": seq, "_id": {"$lt": rid}},
            ]
        docs = await (
            self.records.find(query, projection={"outbox": 0, "state": 0})
            .sort([("at", DESCENDING), ("sequence", DESCENDING), ("_id", DESCENDING)])
            .limit(limit)
            .to_list()
        )
        return await self._with_notes(docs)

    async def hold_records(self, hold_id: str) -> list[JournalRecord]:
        """Oldest first (without their notes)."""
        docs = (
            await self.records.find({"hold_id": hold_id}, projection={"outbox": 0})
            .sort("sequence", ASCENDING)
            .to_list()
        )
        return cast(list[JournalRecord], docs)

    async def all_entries(self, customer_id: str) -> list[JournalRecord]:
        """Every entry of the customer, oldest first, with its note (a personal-data export)."""
        docs = await self.records.find(
            {"customer_id": customer_id, "type": "entry"}, projection={"outbox": 0, "state": 0}
        ).to_list()
        docs.sort(key=lambda d: (d["at"], d["sequence"]))
        return await self._with_notes(docs)

    async def hold_ids_of(self, customer_id: str) -> list[str]:
        docs = await self.records.find(
            {"customer_id": customer_id, "kind": "hold.placed"}, projection={"hold_id": 1, "at": 1}
        ).to_list()
        return [d["hold_id"] for d in sorted(docs, key=lambda d: d["at"])]

    # -- expiry scan -----------------------------------------------------------------------
    async def accounts_due(self, now: datetime, limit: int = 500) -> list[tuple[str, str]]:
        """Accounts with a record whose next deadline has passed and that no expiry pass has
        cleared yet. Stored state only, so a restart loses nothing."""
        docs = await (
            self.records.find(
                {"next_deadline": {"$lte": now}, "deadline_cleared": {"$ne": True}},
                projection={"customer_id": 1, "currency": 1},
            )
            .limit(limit)
            .to_list()
        )
        return sorted({(d["customer_id"], d["currency"]) for d in docs})

    async def clear_deadlines(self, account: str, up_to_sequence: int, now: datetime) -> None:
        """Marks older records whose deadline has passed: the newest state has dealt with it.
        Published ones only: the relay is done with those, so no update of it is overwritten
        (a mark lost the other way only makes a later pass look at the account again)."""
        await self.records.update_many(
            {
                "account": account,
                "sequence": {"$lte": up_to_sequence},
                "next_deadline": {"$lte": now},
                "published": True,
            },
            {"$set": {"deadline_cleared": True}},
        )

    # -- erasure -----------------------------------------------------------------------------
    async def anonymise(self, customer_id: str) -> int:
        """Entries are financial records and stay; the personal parts go. Returns notes deleted."""
        return (await self.notes.delete_many({"customer_id": customer_id})).deleted_count


class RewardStore:
    """Reward states (one versioned document per customer) and coupon codes."""

    def __init__(self, db: AsyncDatabase, notify: Callable[[], None]) -> None:
        self.states = VersionedStore(db, "rewards", notify)
        self.codes = db["coupon_codes"]
        self.order_points = db["order_points"]
        self.birthdays = db["birthday_rewards"]
        self.referral_codes = db["referral_codes"]
        self.known = db["known_customers"]  # the referral codes kept with the customer
        self.referrals = db["referrals"]
        self.reversals = db["points_reversals"]
        self.pending_reversals = db["pending_reversals"]
        self.expiries = db["points_expiries"]

    def outbox_source(self) -> OutboxSource:
        return self.states.outbox_source()

    async def get(self, customer_id: str) -> RewardState:
        state = await self.states.get(customer_id)
        return cast(RewardState, state) if state else rewards.empty(customer_id)

    async def projected(self, customer_id: str) -> RewardState:
        """The projection alone (one read): possibly behind the newest version, so only for a
        change that is always committed, where the unique (customer, version) refuses a stale
        decision (VersionConflict) and the next attempt reads with `get`."""
        state = await self.states.current.find_one({"_id": customer_id})
        return cast(RewardState, state) if state else rewards.empty(customer_id)

    async def commit(
        self, state: RewardState, events: list[dict[str, Any]], cause: str | None = None
    ) -> None:
        """Raises VersionConflict or AlreadyApplied (crm_servicekit.versioned)."""
        await self.states.commit(
            state["id"], state["version"], cast(dict[str, Any], state), events, cause=cause
        )

    async def claim_codes(self, customer_id: str, coupons: list[Coupon]) -> None:
        """Before the coupons are committed; codes are deterministic, so a retry claims the same."""
        for c in coupons:
            await insert_once(self.codes, {"_id": c["code"], "customer_id": customer_id})

    async def owner_of(self, code: str) -> str | None:
        doc = await self.codes.find_one({"_id": code})
        return doc["customer_id"] if doc else None

    async def move_codes(self, codes: list[str], customer_id: str) -> None:
        """customer.merged: the coupons are now `customer_id`'s (whose reward state holds them).
        Every writer sets the same owner, so a repeated or concurrent move changes nothing."""
        if codes:
            await self.codes.update_many({"_id": {"$in": codes}}, {"$set": {"customer_id": customer_id}})

    async def hand_over_code(self, code: str, customer_id: str) -> None:
        """customer.merged: the merged customer's referral code now refers to `customer_id`
        (`referral_codes` is looked at first by sharer_of; the same value from every writer)."""
        await self.referral_codes.update_one(
            {"_id": code}, {"$set": {"customer_id": customer_id}}, upsert=True
        )

    async def share_code(self, customer_id: str, code: str) -> None:
        doc: ReferralCode = {"_id": code, "customer_id": customer_id}
        await insert_once(self.referral_codes, doc)

    async def sharer_of(self, code: str) -> str | None:
        """Who shares `code`: registered in `referral_codes` (over HTTP, or when first heard
        of before codes were kept with the known customer), or with the known customer."""
        doc = await self.referral_codes.find_one({"_id": code})
        if doc is not None:
            return cast(ReferralCode, doc)["customer_id"]
        known = await self.known.find_one({"referral_code": code}, {"_id": 1})
        return known["_id"] if known else None

    async def record_referral(self, doc: Referral) -> Referral:
        """The referee's conversion: this one, or the one recorded before (unique referee)."""
        if await insert_once(self.referrals, doc):
            return doc
        return cast(Referral, await self.referrals.find_one({"_id": doc["_id"]}))

    async def referral_of(self, referee_id: str) -> Referral | None:
        """The customer's own conversion as a referee, if any."""
        return cast(Referral | None, await self.referrals.find_one({"_id": referee_id}))

    async def conversions_of(self, referrer_id: str) -> int:
        return await self.referrals.count_documents({"referrer_id": referrer_id})

    async def earned_before(self, customer_id: str, order_id: str) -> bool:
        """Whether another order of the customer earned points (so `order_id` is not its first)."""
        doc = await self.order_points.find_one(
            {"customer_id": customer_id, "order_id": {"$ne": order_id}}, {"_id": 1}
        )
        return doc is not None

    async def first_order_of(self, customer_id: str) -> OrderPoints | None:
        """The customer's earliest order that earned points, as recorded here."""
        docs = cast(list[OrderPoints], await self.order_points.find({"customer_id": customer_id}).to_list())
        return min(docs, key=lambda d: (d["at"], d["order_id"]), default=None)

    async def points_due(self, now: datetime, limit: int = 500) -> list[str]:
        """Customers whose soonest expiring points are due (the job's query: a range, read in
        full on FerretDB, never on the event path)."""
        docs = (
            await self.states.current.find({"points_deadline": {"$lte": now}}, {"_id": 1})
            .limit(limit)
            .to_list()
        )
        return [d["_id"] for d in docs]

    async def record_expiry(self, doc: PointsExpiry) -> None:
        await insert_once(self.expiries, doc)

    async def expiries_between(self, start: datetime, end: datetime) -> list[tuple[int, datetime]]:
        docs = await self.expiries.find({"at": {"$gte": start, "$lt": end}}, {"points": 1, "at": 1}).to_list()
        return [(d["points"], d["at"]) for d in docs]

    async def reversal_applied(self, customer_id: str, cause: str) -> tuple[int | None, datetime]:
        """The points that `cause`'s committed reversal took and when (None: it took none)."""
        change = await self.states.change_by_cause(customer_id, cause)
        if change is None:
            return None, now_ms()
        for event in change.get("outbox", []):
            if event.get("type") == EventType.REWARD_POINTS_REVERSED:
                return event["data"]["points"], change["recorded_at"]
        return None, change["recorded_at"]

    async def record_reversal(self, doc: PointsReversal) -> None:
        await insert_once(self.reversals, doc)

    # -- loyalty KPIs: read whole, on request (never on the event path) ------------------------
    async def earnings(self) -> list[tuple[str, int, datetime]]:
        docs = await self.order_points.find({}, {"customer_id": 1, "points": 1, "at": 1}).to_list()
        return [(d["customer_id"], d["points"], d["at"]) for d in docs]

    async def reversals_between(self, start: datetime, end: datetime) -> list[tuple[int, datetime]]:
        docs = await self.reversals.find(
            {"at": {"$gte": start, "$lt": end}}, {"points": 1, "at": 1}
        ).to_list()
        return [(d["points"], d["at"]) for d in docs]

    async def coupons(self) -> list[tuple[datetime, datetime | None, int]]:
        """(issued, redeemed, points spent) of every coupon, from the reward states."""
        out = []
        async for doc in self.states.current.find({}, {"coupons": 1}):
            for c in doc.get("coupons", []):
                if c.get("moved_to"):
                    continue  # counted where it moved to (customer.merged)
                spent = 0 if c.get("revoked_at") else c.get("points_spent", 0)  # revoked: given back
                out.append((c["issued_at"], c.get("redeemed_at"), spent))
        return out

    async def conversions_between(self, start: datetime, end: datetime) -> list[datetime]:
        docs = await self.referrals.find({"at": {"$gte": start, "$lt": end}}, {"at": 1}).to_list()
        return [d["at"] for d in docs]

    async def birthday_done(self, customer_id: str, year: int) -> bool:
        return await self.birthdays.find_one({"_id": f"{customer_id}:{year}"}, {"_id": 1}) is not None

    async def record_birthday(self, doc: BirthdayReward) -> None:
        """Unique per (customer, year)."""
        await insert_once(self.birthdays, doc)

    async def record_order_points(self, doc: OrderPoints) -> None:
        """Once per (customer, order): the first record of what an order earned stays."""
        await insert_once(self.order_points, doc)

    async def order_points_of(self, customer_id: str, order_id: str) -> OrderPoints | None:
        doc = await self.order_points.find_one({"_id": f"{customer_id}:{order_id}"})
        return cast(OrderPoints | None, doc)

    async def park_reversal(self, doc: PendingReversal) -> None:
        await insert_once(self.pending_reversals, doc)

    async def parked_reversals(self, customer_id: str, order_id: str) -> list[PendingReversal]:
        docs = await self.pending_reversals.find({"order_key": f"{customer_id}:{order_id}"}).to_list()
        return cast(list[PendingReversal], docs)

    async def reversals_parked_for_email(self, key: str) -> list[PendingReversal]:
        docs = await self.pending_reversals.find({"email_key": key}).to_list()
        return cast(list[PendingReversal], docs)


class Directory:
    """Which customers exist (known, erased), which customer an e-mail belongs to, and reward
    points parked under an e-mail."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.emails = db["customer_emails"]
        self.parked = db["parked_points"]
        self.known = db["known_customers"]
        self.known_copies = VersionedCopy(self.known, db["known_customer_versions"])
        self.erased = db["erased_customers"]
        self.merged = db["merged_customers"]

    async def known_customer(self, customer_id: str) -> KnownCustomer | None:
        return cast(KnownCustomer | None, await self.known.find_one({"_id": customer_id}))

    async def remember(
        self,
        customer_id: str,
        email: str,
        version: int,
        birthday: str | None,
        consent: bool,
        known: bool = False,
        referral_code: str | None = None,
        referred_by: str | None = None,
    ) -> None:
        """The customer exists, with this e-mail, birthday ("MM-DD") and marketing consent; an
        older version never overwrites a newer. `known`: the caller read it as known already
        (known customers are never deleted), so it is updated without trying to insert first.
        `referral_code` is kept when this call records the customer first (RewardStore.sharer_of
        finds it there: no insert of its own)."""
        first: dict[str, Any] = {"since": now_ms()}
        if referral_code is not None:
            first["referral_code"] = referral_code
        fields = {"email_key": email_key(email), "birthday": birthday, "consent": consent}
        if referred_by:
            fields["referred_by"] = referred_by
        await self.known_copies.write(customer_id, version, fields, on_insert=first, exists=known)

    async def exists(self, customer_id: str) -> bool:
        """Heard of and not erased. Customers learnt before `known_customers` existed are
        found through their e-mail mapping (index on customer_id)."""
        if await self.erased.find_one({"_id": customer_id}, {"_id": 1}) is not None:
            return False
        if await self.merged.find_one({"_id": customer_id}, {"_id": 1}) is not None:
            return False
        if await self.known.find_one({"_id": customer_id}, {"_id": 1}) is not None:
            return True
        return await self.emails.find_one({"customer_id": customer_id}, {"_id": 1}) is not None

    async def mark_merged(self, doc: MergedCustomer) -> MergedCustomer:
        """customer.merged, once (insert-only, `_id` = the merged customer): the first one stays."""
        await insert_once(self.merged, doc)
        return cast(MergedCustomer, await self.merged.find_one({"_id": doc["_id"]}))

    async def merged_into(self, customer_id: str) -> str | None:
        doc = await self.merged.find_one({"_id": customer_id}, {"into": 1})
        return doc["into"] if doc else None

    async def repoint_emails(self, merged_id: str, kept_id: str) -> None:
        """The merged customer's e-mails now find the kept one (orders with them are the kept
        customer's). Every writer sets the same value: a redelivery changes nothing."""
        await self.emails.update_many({"customer_id": merged_id}, {"$set": {"customer_id": kept_id}})

    async def is_erased(self, customer_id: str) -> bool:
        return await self.erased.find_one({"_id": customer_id}, {"_id": 1}) is not None

    async def mark_erased(self, customer_id: str) -> None:
        doc: ErasedCustomer = {"_id": customer_id, "at": now_ms()}
        await insert_once(self.erased, doc)
        # Personal: the birthday goes (the tombstone above is what keeps them refused).
        await self.known.update_one({"_id": customer_id}, {"$set": {"birthday": None, "consent": False}})
        await self.known_copies.forget(customer_id)

    async def customers_since(self) -> list[tuple[str, datetime | None]]:
        """Every known customer and when first heard of (the loyalty KPIs; read whole)."""
        docs = await self.known.find({}, {"since": 1}).to_list()
        return [(d["_id"], d.get("since")) for d in docs]

    async def erased_ids(self) -> set[str]:
        return {d["_id"] for d in await self.erased.find({}, {"_id": 1}).to_list()}

    async def born_on(self, birthday: str) -> list[KnownCustomer]:
        """Customers whose stored birthday is "MM-DD" (equality, index-served)."""
        return cast(list[KnownCustomer], await self.known.find({"birthday": birthday}).to_list())

    async def learn(self, email: str, customer_id: str, version: int) -> None:
        """Older versions never overwrite newer ones (events may arrive out of order)."""
        key = email_key(email)
        try:
            await self.emails.replace_one(
                {"_id": key, "version": {"$lt": version}},
                {"customer_id": customer_id, "version": version},
                upsert=True,
            )
        except DuplicateKeyError:
            pass  # a newer version is already recorded
        # An e-mail that moved to this customer no longer points at the old one.
        await self.emails.delete_many(
            {"customer_id": customer_id, "_id": {"$ne": key}, "version": {"$lt": version}}
        )

    async def customer_of(self, email: str) -> str | None:
        doc = cast(DirectoryEntry | None, await self.emails.find_one({"_id": email_key(email)}))
        return doc["customer_id"] if doc else None

    async def park(self, points: ParkedPoints) -> None:
        await insert_once(self.parked, points)

    async def parked_for(self, email: str) -> list[ParkedPoints]:
        return cast(list[ParkedPoints], await self.parked.find({"email_key": email_key(email)}).to_list())

    async def unpark(self, parked_id: str) -> None:
        await self.parked.delete_one({"_id": parked_id})

    async def forget(self, customer_id: str) -> int:
        return (await self.emails.delete_many({"customer_id": customer_id})).deleted_count


class ProgrammeStore:
    """Reward programme versions, insert-only (`_id` = "<id>:<version>", unique): two changes
    made from the same version cannot both be recorded. A handful of documents: read whole."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.versions = db["reward_programmes"]

    async def all(self) -> list[ProgrammeVersion]:
        return cast(list[ProgrammeVersion], await self.versions.find({}).to_list())

    async def record(self, version: ProgrammeVersion) -> bool:
        """False when this version of the programme was recorded already (by someone else)."""
        return await insert_once(self.versions, version)


class GroupStore:
    """What the ledger knows of groups, for buying on account: their terms (`group_terms`,
    insert-only per version), memberships (`group_memberships`, insert-only per event and
    customer) and per customer the credit line they give (versioned `credit_lines`)."""

    def __init__(self, db: AsyncDatabase, notify: Callable[[], None]) -> None:
        self.terms = db["group_terms"]
        self.memberships = db["group_memberships"]
        self.lines = VersionedStore(db, "credit_lines", notify)

    async def record_terms(self, doc: GroupTerms) -> None:
        await insert_once(self.terms, doc)

    async def terms_of(self, group_id: str) -> list[GroupTerms]:
        return cast(list[GroupTerms], await self.terms.find({"group_id": group_id}).to_list())

    async def record_changes(self, docs: list[MembershipChange]) -> None:
        """One insert for an event's customers; a redelivery inserts nothing new."""
        await insert_many_once(self.memberships, docs)

    async def changes_of(self, customer_id: str) -> list[MembershipChange]:
        return cast(
            list[MembershipChange], await self.memberships.find({"customer_id": customer_id}).to_list()
        )

    async def customers_in(self, group_id: str) -> list[str]:
        """Everyone a membership event of the group named (in it or not any more)."""
        docs = await self.memberships.find({"group_id": group_id}, {"customer_id": 1}).to_list()
        return sorted({d["customer_id"] for d in docs})

    async def line(self, customer_id: str) -> CreditLine | None:
        """Newest (the projection and a probe for a newer change): for deciding a change."""
        return cast(CreditLine | None, await self.lines.get(customer_id))

    async def line_now(self, customer_id: str) -> CreditLine | None:
        """The projection alone: one read by `_id`, what a purchase below zero looks up."""
        return cast(CreditLine | None, await self.lines.current.find_one({"_id": customer_id}))

    async def commit_line(self, line: CreditLine | None, customer_id: str, version: int) -> None:
        """Raises VersionConflict (crm_servicekit.versioned); None erases it."""
        await self.lines.commit(customer_id, version, cast(dict[str, Any] | None, line), [])

    async def forget(self, customer_id: str) -> int:
        """Erasure: the customer's membership records go."""
        result = await self.memberships.delete_many({"customer_id": customer_id})
        return result.deleted_count


class Answers:
    """The personal-data protocol's answers (personal_data.collected / erased), each an insert
    that is its own outbox record: `_id` from the request or the erased customer, so a
    redelivered request stores (and publishes) nothing different."""

    def __init__(self, db: AsyncDatabase, notify: Callable[[], None]) -> None:
        self.records = db["personal_data_answers"]
        self._notify = notify

    def outbox_source(self) -> OutboxSource:
        return OutboxSource(self.records, prunable=True, ordered=False)

    async def record(self, answer_id: str, events: list[dict[str, Any]]) -> bool:
        """False when it was recorded before."""
        done = await insert_once(self.records, {"_id": answer_id, "recorded_at": now_ms(), **pending(events)})
        if done:
            self._notify()
        return done


class Store:
    """The ledger's stores, for wiring: their indexes and outbox sources."""

    def __init__(self, db: AsyncDatabase, notify: Callable[[], None]) -> None:
        self.journal = Journal(db, notify)
        self.rewards = RewardStore(db, notify)
        self.directory = Directory(db)
        self.programmes = ProgrammeStore(db)
        self.groups = GroupStore(db, notify)
        self.answers = Answers(db, notify)

    @property
    def indexes(self) -> IndexSpec:
        return {**INDEXES, **self.rewards.states.indexes, **self.groups.lines.indexes}

    def outbox_sources(self) -> list[OutboxSource]:
        return [self.journal.outbox_source(), self.rewards.outbox_source(), self.answers.outbox_source()]
