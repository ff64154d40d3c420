"""Storage of reward states (one versioned document per customer) and coupon codes."""

from collections.abc import Callable
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from crm_ledger import rewards
from crm_servicekit.outbox import OutboxSource
from crm_servicekit.versioned import VersionedStore


class RewardStore:
    def __init__(self, db: AsyncDatabase, notify: Callable[[], None]) -> None:
        self.states = VersionedStore(db, "rewards", notify)
        self.codes = db["coupon_codes"]  # {_id: code, customer_id}: code -> whose state holds it

    @property
    def indexes(self) -> dict[str, Any]:
        return {**self.states.indexes, self.codes.name: []}

    def outbox_source(self) -> OutboxSource:
        return self.states.outbox_source()

    async def get(self, customer_id: str) -> dict[str, Any]:
        return await self.states.get(customer_id) or rewards.empty(customer_id)

    async def claim_codes(self, customer_id: str, codes: list[str]) -> None:
        """Before the coupons are committed; codes are deterministic, so a retry claims the same."""
        for code in codes:
            try:
                await self.codes.insert_one({"_id": code, "customer_id": customer_id})
            except DuplicateKeyError:
                pass

    async def owner_of(self, code: str) -> str | None:
        doc = await self.codes.find_one({"_id": code})
        return doc["customer_id"] if doc else None
