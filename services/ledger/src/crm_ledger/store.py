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
"""

import asyncio
import random
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from crm_contracts.types import email_key
from crm_ledger.domain import (
    AccountState,
    Change,
    Contention,
    Coupon,
    DirectoryEntry,
    EntryNote,
    JournalRecord,
    Note,
    ParkedPoints,
    RewardState,
    rewards,
)
from crm_servicekit.clock import now_ms
from crm_servicekit.mongo import IndexSpec, insert_once
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
    "customer_emails": [IndexModel([("customer_id", ASCENDING)])],
    "parked_points": [IndexModel([("email_key", ASCENDING)])],
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
    ) -> tuple[JournalRecord, bool]:
        """Appends the record `decide` makes from the newest state, once per `record_id`.
        Returns (record, replayed). Domain errors raised by `decide` propagate and nothing
        is written; Contention after `tries` lost races."""
        account = account_key(customer_id, currency)
        for attempt in range(tries):
            state = AccountState.after(await self.latest(account), currency)
            # Looked up after the state was read: a duplicate that committed in between is
            # then either seen here or makes our insert below fail.
            existing = await self.get(record_id)
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
    async def anonymise(self, customer_id: str) -> None:
        """Entries are financial records and stay; the personal parts go."""
        await self.notes.delete_many({"customer_id": customer_id})


class RewardStore:
    """Reward states (one versioned document per customer) and coupon codes."""

    def __init__(self, db: AsyncDatabase, notify: Callable[[], None]) -> None:
        self.states = VersionedStore(db, "rewards", notify)
        self.codes = db["coupon_codes"]

    def outbox_source(self) -> OutboxSource:
        return self.states.outbox_source()

    async def get(self, customer_id: str) -> RewardState:
        state = await self.states.get(customer_id)
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


class Directory:
    """Which customer an e-mail belongs to, and reward points parked under an e-mail."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.emails = db["customer_emails"]
        self.parked = db["parked_points"]

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

    async def forget(self, customer_id: str) -> None:
        await self.emails.delete_many({"customer_id": customer_id})


class Store:
    """The ledger's stores, for wiring: their indexes and outbox sources."""

    def __init__(self, db: AsyncDatabase, notify: Callable[[], None]) -> None:
        self.journal = Journal(db, notify)
        self.rewards = RewardStore(db, notify)
        self.directory = Directory(db)

    @property
    def indexes(self) -> IndexSpec:
        return {**INDEXES, **self.rewards.states.indexes}

    def outbox_sources(self) -> list[OutboxSource]:
        return [self.journal.outbox_source(), self.rewards.outbox_source()]
