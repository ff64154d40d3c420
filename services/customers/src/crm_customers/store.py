"""Every query and index of the customers service; documents in, typed documents out
(crm_customers.domain.documents says what each holds).

Collections (database crm_customers):
- customers / customers_changes: the customer, versioned (crm_servicekit.versioned): every
  change is an inserted (id, version) carrying its events (the outbox).
- customer_emails {_id: lower-cased e-mail, customer_id}: the uniqueness claim; an insert with
  a unique _id is what makes two concurrent first orders one customer.
- orders {_id: "<source>|<order_id>"}: each order.placed stored once.
- order_adjustments: cancellations ({_id: "<order key>|cancelled"}) and refunds ({_id:
  "<order key>|refund|<event id>"}), stored whether or not the order has arrived; statistics
  are derived from both. Each carries the customer_id of its order once the order is known
  (set by whichever of the two arrives second), so a customer's adjustments are one equality
  lookup however many orders.
- memberships {_id: "<group_id>|<customer_id>|<event id>", member, at}: what each group event
  said; the latest statement per (group, customer) counts. deleted_groups {_id: group id}.
- notes, credentials {_id: customer_id, hash} (Argon2 hashes, kept out of the versioned state).
- consents {_id: lower-cased e-mail}: consent stated for an e-mail before it was a customer.
"""

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

from pymongo import ASCENDING, DESCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from crm_customers.domain.documents import (
    Adjustment,
    Consent,
    Credentials,
    Customer,
    CustomerChange,
    EmailClaim,
    Membership,
    Note,
    Order,
    StoredConsent,
)
from crm_customers.domain.search import FILTER_FIELDS, PREFIX_FIELDS, SORT_FIELDS, Query
from crm_customers.domain.stats import OrderView, apply_adjustments
from crm_servicekit.mongo import IndexSpec, insert_once
from crm_servicekit.versioned import VersionedStore

SEARCH_INDEXES = [
    # q: one anchored range per key; MongoDB answers the $or with one index scan per clause.
    *(IndexModel([(f, ASCENDING)]) for f in PREFIX_FIELDS),
    # Unfiltered lists in each sort order; the _id suffix makes the keyset cursor exact.
    *(IndexModel([(f, ASCENDING), ("_id", ASCENDING)]) for f in SORT_FIELDS.values()),
    # Filtered lists (group, tag, type, status) in name or creation order.
    *(
        IndexModel([(k, ASCENDING), (f, ASCENDING), ("_id", ASCENDING)])
        for k in FILTER_FIELDS
        for f in ("name_sort", "created_at")
    ),
]

INDEXES: IndexSpec = {
    "customers": SEARCH_INDEXES,
    "customer_emails": [IndexModel([("customer_id", ASCENDING)])],
    "orders": [IndexModel([("customer_id", ASCENDING), ("placed_at", DESCENDING), ("_id", DESCENDING)])],
    "order_adjustments": [IndexModel([("order_key", ASCENDING)]), IndexModel([("customer_id", ASCENDING)])],
    "memberships": [IndexModel([("customer_id", ASCENDING)]), IndexModel([("group_id", ASCENDING)])],
    "notes": [IndexModel([("customer_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)])],
    "deleted_groups": [],
    "credentials": [],
    "consents": [],
}
"""The collections of this service beyond the versioned store's own (`CustomerStore.indexes`)."""


def _before(field: str, after: tuple[datetime, str] | None) -> dict[str, Any]:
    """Keyset: documents sorted (field, _id) descending that come after `after`."""
    if not after:
        return {}
    at, key = after
    return {"$or": [{field: {"$lt": at}}, {field: at, "_id": {"$lt": key}}]}


class CustomerStore:
    def __init__(self, db: AsyncDatabase, notify: Callable[[], None]) -> None:
        self.db = db
        self.customers = VersionedStore(db, "customers", notify)
        self.emails = db["customer_emails"]
        self.orders = db["orders"]
        self.adjustments = db["order_adjustments"]
        self.memberships = db["memberships"]
        self.deleted_groups = db["deleted_groups"]
        self.notes = db["notes"]
        self.credentials = db["credentials"]
        self.consents = db["consents"]

    @property
    def indexes(self) -> IndexSpec:
        return {**self.customers.indexes, **INDEXES}

    # customers

    async def get(self, customer_id: str) -> Customer | None:
        return cast(Customer | None, await self.customers.get(customer_id))

    async def search(self, query: Query, limit: int) -> list[Customer]:
        docs = await self.customers.current.find(query.filter).sort(query.sort).limit(limit).to_list()
        return cast(list[Customer], docs)

    async def commit(
        self,
        customer_id: str,
        version: int,
        doc: Customer | None,
        events: list[dict[str, Any]],
        cause: str | None,
    ) -> None:
        """Records `doc` (None: erased) as `version` with its events; raises VersionConflict
        or AlreadyApplied (crm_servicekit.versioned) and then changes nothing."""
        state = cast(dict[str, Any] | None, doc)
        await self.customers.commit(customer_id, version, state, events, cause=cause)

    async def was_erased(self, customer_id: str) -> bool:
        erased = await self.customers.changes.find_one({"doc_id": customer_id, "state": None}, {"_id": 1})
        return erased is not None

    # e-mail claims

    async def claim_email(self, email_key: str, customer_id: str) -> str:
        """The id owning this e-mail: ours if we claimed it first, otherwise the existing one."""
        claim: EmailClaim = {"_id": email_key, "customer_id": customer_id}
        if await insert_once(self.emails, claim):
            return customer_id
        existing = await self.emails.find_one({"_id": email_key})
        if existing is None:  # released in between: claim again
            return await self.claim_email(email_key, customer_id)
        return cast(str, existing["customer_id"])

    async def owner_of(self, email_key: str) -> str | None:
        doc = await self.emails.find_one({"_id": email_key})
        return cast(str, doc["customer_id"]) if doc else None

    async def release_email(self, email_key: str, customer_id: str) -> None:
        await self.emails.delete_one({"_id": email_key, "customer_id": customer_id})

    # orders

    async def record_order(self, order: Order) -> Order:
        """The stored order with this key: the given one, or the one stored first (redelivery)."""
        if await insert_once(self.orders, order):
            return order
        return cast(Order, await self.orders.find_one({"_id": order["_id"]}))

    async def forget_order(self, order_key: str, customer_id: str) -> None:
        await self.orders.delete_one({"_id": order_key, "customer_id": customer_id})

    async def record_adjustment(self, adjustment: Adjustment) -> bool:
        """False: stored before (the same cancellation or refund again)."""
        return await insert_once(self.adjustments, adjustment)

    async def attach_adjustments(self, order_key: str, customer_id: str) -> None:
        """Gives the adjustments stored before their order arrived the order's customer.
        Both sides write first and look second, so one of them always sees the other."""
        await self.adjustments.update_many({"order_key": order_key}, {"$set": {"customer_id": customer_id}})

    async def order(self, order_key: str) -> Order | None:
        return cast(Order | None, await self.orders.find_one({"_id": order_key}))

    async def _views(self, customer_id: str, orders: list[Order]) -> list[OrderView]:
        adj: dict[str, list[Adjustment]] = {o["_id"]: [] for o in orders}
        if orders:
            async for a in self.adjustments.find({"customer_id": customer_id}):
                if a["order_key"] in adj:
                    adj[a["order_key"]].append(cast(Adjustment, a))
        return [apply_adjustments(o, adj[o["_id"]]) for o in orders]

    async def order_views(self, customer_id: str) -> list[OrderView]:
        """Every order of the customer with its cancellations and refunds applied."""
        docs = await self.orders.find({"customer_id": customer_id}).to_list()
        return await self._views(customer_id, cast(list[Order], docs))

    async def orders_page(
        self, customer_id: str, limit: int, after: tuple[datetime, str] | None
    ) -> list[OrderView]:
        filt = {"customer_id": customer_id, **_before("placed_at", after)}
        docs = await self.orders.find(filt).sort([("placed_at", -1), ("_id", -1)]).limit(limit).to_list()
        return await self._views(customer_id, cast(list[Order], docs))

    async def mark_addresses_learned(self, order_keys: list[str]) -> None:
        if order_keys:  # one command, each update found by _id (`$in` would scan)
            await self.orders.bulk_write(
                [UpdateOne({"_id": k}, {"$set": {"address_learned": True}}) for k in order_keys],
                ordered=False,
            )

    # groups

    async def record_membership(
        self, group_id: str, customer_id: str, member: bool, at: datetime, event_id: str
    ) -> None:
        """One inserted fact per event: deliveries handled concurrently or out of order still
        end on the latest statement (by event time), which an update in place would not."""
        fact: Membership = {
            "_id": f"{group_id}|{customer_id}|{event_id}",
            "group_id": group_id,
            "customer_id": customer_id,
            "member": member,
            "at": at,
        }
        await insert_once(self.memberships, fact)

    async def members_of(self, group_id: str) -> list[str]:
        return sorted({m["customer_id"] async for m in self.memberships.find({"group_id": group_id})})

    async def remove_group(self, group_id: str) -> None:
        """Group ids are never reused: a deleted group stays deleted whatever comes later."""
        await insert_once(self.deleted_groups, {"_id": group_id})

    async def group_ids_of(self, customer_id: str) -> list[str]:
        latest: dict[str, Membership] = {}
        async for doc in self.memberships.find({"customer_id": customer_id}):
            m = cast(Membership, doc)
            seen = latest.get(m["group_id"])
            if seen is None or (m["at"], m["_id"]) > (seen["at"], seen["_id"]):
                latest[m["group_id"]] = m
        member = [g for g, m in latest.items() if m["member"]]
        if not member:
            return []
        gone = await asyncio.gather(*(self.deleted_groups.find_one({"_id": g}, {"_id": 1}) for g in member))
        return sorted(g for g, deleted in zip(member, gone, strict=False) if deleted is None)

    # consent stated for an e-mail that was no customer yet

    async def record_consent(self, email_key: str, consent: Consent) -> None:
        current = await self.consents.find_one({"_id": email_key})
        if current is None or current["at"] <= consent["at"]:
            stored: StoredConsent = {"_id": email_key, **consent}
            await self.consents.replace_one({"_id": email_key}, stored, upsert=True)

    async def consent_for(self, email_key: str) -> StoredConsent | None:
        return cast(StoredConsent | None, await self.consents.find_one({"_id": email_key}))

    # notes

    async def add_note(self, note: Note) -> None:
        await self.notes.insert_one(dict(note))

    async def notes_page(
        self, customer_id: str, limit: int, after: tuple[datetime, str] | None = None
    ) -> list[Note]:
        filt = {"customer_id": customer_id, **_before("created_at", after)}
        docs = await self.notes.find(filt).sort([("created_at", -1), ("_id", -1)]).limit(limit).to_list()
        return cast(list[Note], docs)

    async def delete_note(self, customer_id: str, note_id: str) -> bool:
        result = await self.notes.delete_one({"_id": note_id, "customer_id": customer_id})
        return result.deleted_count == 1

    # history: the recorded versions of a customer

    async def changes_page(
        self, customer_id: str, limit: int, before: datetime | None = None
    ) -> list[CustomerChange]:
        filt: dict[str, Any] = {"doc_id": customer_id}
        if before:
            filt["recorded_at"] = {"$lte": before}
        docs = await (
            self.customers.changes.find(filt, projection={"state": 0})
            .sort([("version", -1)])
            .limit(limit)
            .to_list()
        )
        return cast(list[CustomerChange], docs)

    # credentials

    async def set_password_hash(self, customer_id: str, hashed: str, at: datetime) -> None:
        credentials: Credentials = {"_id": customer_id, "hash": hashed, "updated_at": at}
        await self.credentials.replace_one({"_id": customer_id}, credentials, upsert=True)

    async def password_hash(self, customer_id: str) -> Credentials | None:
        return cast(Credentials | None, await self.credentials.find_one({"_id": customer_id}))

    # erasure

    async def erase_personal_data(self, customer_id: str, email_keys: list[str]) -> None:
        """Everything held about the person except the versioned record itself."""
        keys = [o["_id"] async for o in self.orders.find({"customer_id": customer_id}, projection={"_id": 1})]
        await self.adjustments.delete_many({"customer_id": customer_id})
        if keys:  # and any not attached yet (erasure is rare: a scan is acceptable here)
            await self.adjustments.delete_many({"order_key": {"$in": keys}})
        await self.orders.delete_many({"customer_id": customer_id})
        await self.notes.delete_many({"customer_id": customer_id})
        await self.credentials.delete_many({"_id": customer_id})
        await self.memberships.delete_many({"customer_id": customer_id})
        if email_keys:
            await self.consents.delete_many({"_id": {"$in": email_keys}})
        await self.emails.delete_many({"customer_id": customer_id})
