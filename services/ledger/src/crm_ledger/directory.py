"""Which customer an order belongs to, as the ledger learns it from customer events.

Orders name `customer.customer_id` only when the shopper is logged in; otherwise the ledger
finds the id by e-mail from `customer.created/updated/registered` (customers service). An
order whose customer is not known yet leaves its reward points parked under the e-mail until
that customer's event arrives (the customers service creates guests from the same order, so
its event often comes second).
"""

from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError


def email_key(email: str) -> str:
    return email.strip().lower()


class Directory:
    def __init__(self, db: AsyncDatabase) -> None:
        self.emails = db["customer_emails"]  # {_id: e-mail key, customer_id, version}
        self.parked = db["parked_points"]  # {_id: event id, email_key, order_id, total, currency}

    @property
    def indexes(self) -> dict[str, list[IndexModel]]:
        return {
            "customer_emails": [IndexModel([("customer_id", ASCENDING)])],
            "parked_points": [IndexModel([("email_key", ASCENDING)])],
        }

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
        doc = await self.emails.find_one({"_id": email_key(email)})
        return doc["customer_id"] if doc else None

    async def park(self, doc: dict[str, Any]) -> None:
        try:
            await self.parked.insert_one(doc)
        except DuplicateKeyError:
            pass

    async def parked_for(self, email: str) -> list[dict[str, Any]]:
        return await self.parked.find({"email_key": email_key(email)}).to_list()

    async def unpark(self, parked_id: str) -> None:
        await self.parked.delete_one({"_id": parked_id})

    async def forget(self, customer_id: str) -> None:
        await self.emails.delete_many({"customer_id": customer_id})
