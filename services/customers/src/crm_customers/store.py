"""Every query and index of the customers service."""

from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from crm_servicekit.versioned import VersionedStore


class CustomerStore:
    def __init__(self, db: AsyncDatabase, notify: Any) -> None:
        self.customers = VersionedStore(db, "customers", notify)
        self.emails = db["customer_emails"]  # {_id: e-mail key, customer_id}: the uniqueness claim
        self.orders = db["orders"]

    @property
    def indexes(self) -> dict[str, list[IndexModel]]:
        return {
            **self.customers.indexes,
            "customers": [IndexModel([("email_key", ASCENDING)])],
            "orders": [IndexModel([("customer_id", ASCENDING), ("placed_at", ASCENDING)])],
        }

    async def claim_email(self, email_key: str, customer_id: str) -> str:
        """The id owning this e-mail: ours if we claimed it first, otherwise the existing one.
        An insert with a unique _id is what makes two concurrent first orders one customer."""
        try:
            await self.emails.insert_one({"_id": email_key, "customer_id": customer_id})
            return customer_id
        except DuplicateKeyError:
            existing = await self.emails.find_one({"_id": email_key})
            return existing["customer_id"]  # type: ignore[index]

    async def record_order(self, order: dict[str, Any]) -> bool:
        """False if this order was already recorded (redelivery)."""
        try:
            await self.orders.insert_one(order)
            return True
        except DuplicateKeyError:
            return False

    async def get(self, customer_id: str) -> dict[str, Any] | None:
        return await self.customers.get(customer_id)

    async def orders_of(self, customer_id: str, limit: int) -> list[dict[str, Any]]:
        return await (
            self.orders.find({"customer_id": customer_id}).sort("placed_at", -1).limit(limit).to_list()
        )
