"""Price lists per group (entries added and removed, each announced with group.pricing.updated)
and the price a customer pays for a SKU, by the rule of domain/pricing.py."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import uuid4

from crm_contracts import new_event
from crm_contracts.names import EventType
from crm_contracts.outbound import GroupPrice, GroupPricingUpdated
from crm_groups.domain import (
    Candidate,
    GroupDoc,
    PriceDoc,
    PriceFields,
    Resolution,
    group_offer,
    new_price,
    price_view,
    resolve_price,
)
from crm_groups.service.groups import Listing, group_or_not_found
from crm_groups.settings import GroupsSettings
from crm_groups.store import GroupStore
from crm_servicekit.clock import now_ms, to_ms
from crm_servicekit.errors import NotFound


@dataclass
class PriceLists:
    store: GroupStore
    settings: GroupsSettings

    def _event(self, group: GroupDoc, change: str, entry: PriceDoc) -> dict[str, Any]:
        data = GroupPricingUpdated(
            group_id=group["id"],
            group_name=group["name"],
            change=change,
            price=GroupPrice(**price_view(entry)),
        )
        return new_event(EventType.GROUP_PRICING_UPDATED, self.settings.source, data, subject=group["id"])

    async def add_price(self, group_id: str, fields: PriceFields) -> dict[str, Any]:
        """Adds an entry to the group's price list. Raises Invalid, NotFound (the group)."""
        starts, ends = fields["starts_at"], fields["ends_at"]
        fields = {
            **fields,
            "starts_at": to_ms(starts) if starts else None,
            "ends_at": to_ms(ends) if ends else None,
        }
        entry = new_price(f"prc_{uuid4().hex}", group_id, fields, now_ms(), [])  # Invalid first
        group = await group_or_not_found(self.store, group_id)
        entry["outbox"], entry["published"] = [self._event(group, "added", entry)], False
        await self.store.add_price(entry)
        if await self.store.get(group_id) is None:  # deleted meanwhile: its prices go with it
            await self.store.delete_group_prices(group_id)
            raise NotFound("Group", group_id)
        return price_view(entry)

    async def list_prices(
        self, group_id: str, sku: str | None, after: str | None, limit: int
    ) -> Listing[dict[str, Any]]:
        """By entry id. Raises NotFound (the group)."""
        await group_or_not_found(self.store, group_id)
        docs = await self.store.price_list(group_id, sku, after, limit + 1)
        page, more = docs[:limit], len(docs) > limit
        return Listing([price_view(d) for d in page], (page[-1]["id"],) if more else None)

    async def remove_price(self, group_id: str, price_id: str) -> None:
        """Removes an entry, announced once. Raises NotFound (the group or the entry)."""
        group = await group_or_not_found(self.store, group_id)
        entry = await self.store.price(price_id)
        if entry is None or entry["group_id"] != group_id:
            raise NotFound("Price", price_id)
        events = [self._event(group, "removed", entry)]
        if not entry["published"]:
            # Its creation may not be published yet, and the relay no longer sees a deleted
            # entry: its event goes first with the removal (the same event id if both go out).
            events = [*entry["outbox"], *events]
        await self.store.remove_price(entry, events)

    async def price_for_customer(
        self, customer_id: str, sku: str, currency: str, at: datetime, list_price: int | None
    ) -> Resolution:
        """What each of the customer's groups offers for the SKU at `at`, and the winner with
        the reason. Raises NotFound (the customer)."""
        if not await self.store.customer_exists(customer_id):
            raise NotFound("Customer", customer_id)
        rows = await self.store.memberships_of(customer_id)
        groups = await self.store.groups_by_id([r["group_id"] for r in rows])
        entries = await self.store.prices_for(list(groups), sku) if groups else []
        offers: list[Candidate] = []
        for group in groups.values():
            offer = group_offer(group, entries, sku, currency, at, list_price)
            if offer is not None:
                offers.append(offer)
        return resolve_price(offers, sku, currency)
