"""Every query and index of the ledger's account journal.

`journal` holds the account records (domain.py: entries, hold records, and `rejection` records
that change nothing but make a refused debit of an event as final as a booked one), append-only: {_id: record id (deterministic:
from the event id, the Idempotency-Key, the hold or the expiring lot), account, sequence, ...}.
Two unique keys make it exactly-once and overdraft-free on FerretDB, whose updates are not
atomic: `_id` (the same cause twice is one record) and (account, sequence) (two writers that
decided from the same state cannot both append). FerretDB's duplicate-key error does not name
the index, so after one we look the record id up: found = replay, otherwise = lost the race.
Each record is also an outbox document (its events, `published`, `recorded_at`).

What people write about a record (`reason`, `operator`) is kept apart in `entry_notes`, keyed by
the record id: erasing a customer deletes those notes and never rewrites a journal record. (An
update of a journal record could also lose a concurrent one: FerretDB's updates read and write
back the whole document, and the outbox relay sets `published` on these same documents.)
"""

import asyncio
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from crm_ledger.domain import AccountState, Change
from crm_servicekit.outbox import OUTBOX_INDEXES, OutboxSource, pending


class Contention(Exception):
    """Too many concurrent writers on one account; the caller may retry (5xx / redelivery)."""


PERSONAL = ("reason", "operator")


def account_key(customer_id: str, currency: str) -> str:
    return f"{customer_id}:{currency}"


def now_ms() -> datetime:
    """Times are stored to the millisecond (BSON); truncating here keeps cursors exact."""
    t = datetime.now(UTC)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


Decide = Callable[[AccountState], Change]
Events = Callable[[dict[str, Any]], list[dict[str, Any]]]


class Journal:
    def __init__(self, db: AsyncDatabase, notify: Callable[[], None]) -> None:
        self.records = db["journal"]
        self.notes = db["entry_notes"]  # {_id: record id, customer_id, reason, operator}
        self._notify = notify

    @property
    def indexes(self) -> dict[str, list[IndexModel]]:
        return {
            "journal": [
                IndexModel([("account", ASCENDING), ("sequence", DESCENDING)], unique=True),
                IndexModel([("customer_id", ASCENDING), ("at", DESCENDING), ("sequence", DESCENDING)]),
                IndexModel([("hold_id", ASCENDING)]),
                IndexModel([("next_deadline", ASCENDING)]),
                *OUTBOX_INDEXES,
            ],
            "entry_notes": [IndexModel([("customer_id", ASCENDING)])],
        }

    def outbox_sources(self) -> list[OutboxSource]:
        # Entries carry the account's sequence: consumers keep the highest, in any order.
        return [OutboxSource(self.records, ordered=False)]

    async def get(self, record_id: str) -> dict[str, Any] | None:
        doc = await self.records.find_one({"_id": record_id}, projection={"outbox": 0})
        return (await self._with_notes([doc]))[0] if doc else None

    async def _with_notes(self, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        ids = [d["_id"] for d in docs]
        notes = {n["_id"]: n for n in await self.notes.find({"_id": {"$in": ids}}).to_list()}
        for d in docs:
            note = notes.get(d["_id"], {})
            d.update({k: note.get(k) for k in PERSONAL})
        return docs

    async def _note(self, record_id: str, customer_id: str, note: dict[str, Any]) -> None:
        """Written before the record (a crash in between leaves an orphan note, never a
        record without its note); the record id makes a retry write the same note."""
        if any(note.values()):
            try:
                await self.notes.insert_one({"_id": record_id, "customer_id": customer_id, **note})
            except DuplicateKeyError:
                pass

    async def latest(self, account: str) -> dict[str, Any] | None:
        return await self.records.find_one(
            {"account": account}, sort=[("sequence", DESCENDING)], projection={"outbox": 0}
        )

    async def append(
        self,
        customer_id: str,
        currency: str,
        record_id: str,
        decide: Decide,
        events: Events,
        tries: int = 200,
    ) -> tuple[dict[str, Any], bool]:
        """Appends the record `decide` makes from the newest state, once per `record_id`.
        Returns (record, replayed). Domain exceptions raised by `decide` propagate and
        nothing is written."""
        account = account_key(customer_id, currency)
        for attempt in range(tries):
            state = AccountState.from_doc(await self.latest(account))
            # Looked up after the state was read: a duplicate that committed in between is
            # then either seen here or makes our insert below fail.
            existing = await self.get(record_id)
            if existing is not None:
                return existing, True
            change = decide(state)
            new = change.state
            fields = dict(change.fields)
            note = {k: fields.pop(k, None) for k in PERSONAL}
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
                **fields,
            }
            doc["recorded_at"] = doc["at"]
            doc.update(pending(events(doc)))
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
            return {**doc, **note}, False
        raise Contention(account)

    # -- reads ---------------------------------------------------------------------------
    async def accounts_of(self, customer_id: str) -> list[dict[str, Any]]:
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
        after: dict[str, Any] | None,
        kind: str | None,
        currency: str | None,
    ) -> list[dict[str, Any]]:
        """Entries newest first; `after` = (at, sequence, _id) of the last one already shown."""
        query: dict[str, Any] = {"customer_id": customer_id, "type": "entry"}
        if kind:
            query["kind"] = kind
        if currency:
            query["currency"] = currency
        if after:
            at, seq, rid = after["at"], after["sequence"], after["id"]
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

    async def hold_records(self, hold_id: str) -> list[dict[str, Any]]:
        return (
            await self.records.find({"hold_id": hold_id}, projection={"outbox": 0})
            .sort("sequence", ASCENDING)
            .to_list()
        )

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
