"""Every query and index of the customers service.

Collections (database crm_customers):
- customers / customers_changes: the customer, versioned (crm_servicekit.versioned): every
  change is an inserted (id, version) carrying its events (the outbox).
- customer_emails {_id: lower-cased e-mail, customer_id}: the uniqueness claim; an insert with
  a unique _id is what makes two concurrent first orders one customer.
- orders {_id: "<source>|<order_id>"}: each order.placed stored once.
- order_adjustments: cancellations ({_id: "<order key>|cancelled"}) and refunds ({_id: event
  id}), stored whether or not the order has arrived; statistics are derived from both. Each
  carries the customer_id of its order once the order is known (set by whichever of the two
  arrives second), so a customer's adjustments are one equality lookup however many orders.
- memberships {_id: "<group_id>|<customer_id>|<event id>", member, at}: what each group event
  said; the latest statement per (group, customer) counts. deleted_groups {_id: group id}.
- notes, credentials {_id: customer_id, hash} (Argon2 hashes, kept out of the versioned state).
- consents {_id: lower-cased e-mail}: consent stated for an e-mail before it was a customer.
"""

import asyncio
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from crm_customers import search as queries
from crm_customers.stats import OrderView, apply_adjustments
from crm_servicekit.versioned import VersionedStore


class CustomerStore:
    def __init__(self, db: AsyncDatabase, notify: Any) -> None:
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
    def indexes(self) -> dict[str, list[IndexModel]]:
        return {
            **self.customers.indexes,
            "customers": queries.SEARCH_INDEXES,
            "customer_emails": [IndexModel([("customer_id", ASCENDING)])],
            "orders": [
                IndexModel([("customer_id", ASCENDING), ("placed_at", DESCENDING), ("_id", DESCENDING)])
            ],
            "order_adjustments": [
                IndexModel([("order_key", ASCENDING)]),
                IndexModel([("customer_id", ASCENDING)]),
            ],
            "memberships": [IndexModel([("customer_id", ASCENDING)]), IndexModel([("group_id", ASCENDING)])],
            "notes": [
                IndexModel([("customer_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)])
            ],
            "deleted_groups": [],
            "credentials": [],
            "consents": [],
        }

    # customers

    async def get(self, customer_id: str) -> dict[str, Any] | None:
        return await self.customers.get(customer_id)

    async def search(self, query: queries.Query, limit: int) -> list[dict[str, Any]]:
        return await self.customers.current.find(query.filter).sort(query.sort).limit(limit).to_list()

    # e-mail claims

    async def claim_email(self, email_key: str, customer_id: str) -> str:
        """The id owning this e-mail: ours if we claimed it first, otherwise the existing one."""
        try:
            await self.emails.insert_one({"_id": email_key, "customer_id": customer_id})
            return customer_id
        except DuplicateKeyError:
            existing = await self.emails.find_one({"_id": email_key})
            if existing is None:  # released in between: claim again
                return await self.claim_email(email_key, customer_id)
            return existing["customer_id"]

    async def owner_of(self, email_key: str) -> str | None:
        doc = await self.emails.find_one({"_id": email_key})
        return doc["customer_id"] if doc else None

    async def release_email(self, email_key: str, customer_id: str) -> None:
        await self.emails.delete_one({"_id": email_key, "customer_id": customer_id})

    # orders

    async def record_order(self, order: dict[str, Any]) -> dict[str, Any]:
        """The stored order with this key: the given one, or the one stored first (redelivery)."""
        try:
            await self.orders.insert_one(order)
            return order
        except DuplicateKeyError:
            return await self.orders.find_one({"_id": order["_id"]})  # type: ignore[return-value]

    async def record_adjustment(self, adjustment: dict[str, Any]) -> bool:
        """False: stored before (the same cancellation or refund again)."""
        try:
            await self.adjustments.insert_one(adjustment)
            return True
        except DuplicateKeyError:
            return False

    async def attach_adjustments(self, order_key: str, customer_id: str) -> None:
        """Gives the adjustments stored before their order arrived the order's customer.
        Both sides write first and look second, so one of them always sees the other."""
        await self.adjustments.update_many({"order_key": order_key}, {"$set": {"customer_id": customer_id}})

    async def order(self, order_key: str) -> dict[str, Any] | None:
        return await self.orders.find_one({"_id": order_key})

    async def _views(self, customer_id: str, orders: list[dict[str, Any]]) -> list[OrderView]:
        adj: dict[str, list[dict[str, Any]]] = {o["_id"]: [] for o in orders}
        if orders:
            async for a in self.adjustments.find({"customer_id": customer_id}):
                if a["order_key"] in adj:
                    adj[a["order_key"]].append(a)
        return [apply_adjustments(o, adj[o["_id"]]) for o in orders]

    async def order_views(self, customer_id: str) -> list[OrderView]:
        """Every order of the customer with its cancellations and refunds applied."""
        return await self._views(customer_id, await self.orders.find({"customer_id": customer_id}).to_list())

    async def orders_page(
        self, customer_id: str, limit: int, after: tuple[datetime, str] | None
    ) -> list[OrderView]:
        filt: dict[str, Any] = {"customer_id": customer_id}
        if after:
            at, key = after
            filt["$or"] = [{"placed_at": {"$lt": at}}, {"placed_at": at, "_id": {"$lt": key}}]
        docs = await self.orders.find(filt).sort([("placed_at", -1), ("_id", -1)]).limit(limit).to_list()
        return await self._views(customer_id, docs)

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
        try:
            await self.memberships.insert_one(
                {
                    "_id": f"{group_id}|{customer_id}|{event_id}",
                    "group_id": group_id,
                    "customer_id": customer_id,
                    "member": member,
                    "at": at,
                }
            )
        except DuplicateKeyError:
            pass

    async def members_of(self, group_id: str) -> list[str]:
        return sorted({m["customer_id"] async for m in self.memberships.find({"group_id": group_id})})

    async def remove_group(self, group_id: str) -> None:
        """Group ids are never reused: a deleted group stays deleted whatever comes later."""
        try:
            await self.deleted_groups.insert_one({"_id": group_id})
        except DuplicateKeyError:
            pass

    async def group_ids_of(self, customer_id: str) -> list[str]:
        latest: dict[str, dict[str, Any]] = {}
        async for m in self.memberships.find({"customer_id": customer_id}):
            seen = latest.get(m["group_id"])
            if seen is None or (m["at"], m["_id"]) > (seen["at"], seen["_id"]):
                latest[m["group_id"]] = m
        member = [g for g, m in latest.items() if m["member"]]
        if not member:
            return []
        gone = await asyncio.gather(*(self.deleted_groups.find_one({"_id": g}, {"_id": 1}) for g in member))
        return sorted(g for g, deleted in zip(member, gone, strict=False) if deleted is None)

    # consent stated for an e-mail that was no customer yet

    async def record_consent(self, email_key: str, consent: dict[str, Any]) -> None:
        current = await self.consents.find_one({"_id": email_key})
        if current is None or current["at"] <= consent["at"]:
            await self.consents.replace_one({"_id": email_key}, {"_id": email_key, **consent}, upsert=True)

    async def consent_for(self, email_key: str) -> dict[str, Any] | None:
        return await self.consents.find_one({"_id": email_key})

    # notes

    async def add_note(self, note: dict[str, Any]) -> None:
        await self.notes.insert_one(note)

    async def notes_page(
        self, customer_id: str, limit: int, after: tuple[datetime, str] | None = None
    ) -> list[dict[str, Any]]:
        filt: dict[str, Any] = {"customer_id": customer_id}
        if after:
            at, key = after
            filt["$or"] = [{"created_at": {"$lt": at}}, {"created_at": at, "_id": {"$lt": key}}]
        return await self.notes.find(filt).sort([("created_at", -1), ("_id", -1)]).limit(limit).to_list()

    async def delete_note(self, customer_id: str, note_id: str) -> bool:
        result = await self.notes.delete_one({"_id": note_id, "customer_id": customer_id})
        return result.deleted_count == 1

    # history: the recorded versions of a customer

    async def changes_page(
        self, customer_id: str, limit: int, before: datetime | None = None
    ) -> list[dict[str, Any]]:
        filt: dict[str, Any] = {"doc_id": customer_id}
        if before:
            filt["recorded_at"] = {"$lte": before}
        return await (
            self.customers.changes.find(filt, projection={"state": 0})
            .sort([("version", -1)])
            .limit(limit)
            .to_list()
        )

    # credentials

    async def set_password_hash(self, customer_id: str, hashed: str, at: datetime) -> None:
        await self.credentials.replace_one(
            {"_id": customer_id}, {"_id": customer_id, "hash": hashed, "updated_at": at}, upsert=True
        )

    async def password_hash(self, customer_id: str) -> dict[str, Any] | None:
        return await self.credentials.find_one({"_id": customer_id})

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
