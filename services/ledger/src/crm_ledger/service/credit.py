"""Buying on account: the ledger learns groups (their credit limits and payment terms) and
memberships from group events, and keeps per customer the credit line their groups give
(domain.credit). A purchase that would take a balance below zero reads it (service.accounts)."""

from datetime import datetime
from typing import Literal

from crm_contracts.outbound import GroupMembersChanged, GroupState
from crm_ledger.domain import CreditLine, GroupTerms, MembershipChange
from crm_ledger.domain.credit import DELETED_VERSION, credit_line, current_groups, newest_terms, same_line
from crm_ledger.store import Directory, GroupStore
from crm_servicekit.clock import now_ms, to_ms
from crm_servicekit.versioned import retry_on_conflict


class Credit:
    def __init__(self, store: GroupStore, directory: Directory) -> None:
        self.store = store
        self.directory = directory

    async def limit(self, customer_id: str, currency: str) -> int:
        """How far below zero a purchase of the customer may take the balance: one read."""
        line = await self.store.line_now(customer_id)
        return line["limits"].get(currency, 0) if line else 0

    async def groups_of(self, customer_id: str) -> list[str]:
        """The customer's groups as known now (one read)."""
        line = await self.store.line_now(customer_id)
        return line["group_ids"] if line else []

    async def line_of(self, customer_id: str) -> CreditLine | None:
        return await self.store.line_now(customer_id)

    async def learn_group(self, g: GroupState) -> None:
        """group.created / updated (versioned: every version is kept, the newest counts); the
        members' credit lines follow."""
        doc: GroupTerms = {
            "_id": f"{g.id}:{g.version}",
            "group_id": g.id,
            "version": g.version,
            "name": g.name,
            "credit_limits": {m.currency: m.amount for m in g.credit_limits if m.amount > 0},
            "payment_terms_days": g.payment_terms_days,
            "deleted": False,
            "at": now_ms(),
        }
        await self.store.record_terms(doc)
        # Members' lines depend on the newest terms only: a version that is not the newest, or
        # that leaves the credit terms as they were (a rename), changes no line.
        versions = await self.store.terms_of(g.id)
        newest = newest_terms(versions)
        before = newest_terms([t for t in versions if t["version"] != g.version])
        if newest is None or newest["version"] != g.version:
            return
        if before is not None and not before["deleted"] and _same_terms(before, doc):
            return
        await self._recompute_members(g.id)

    async def group_deleted(self, group_id: str, name: str | None) -> None:
        """group.deleted ends its memberships (and no late event brings it back)."""
        doc: GroupTerms = {
            "_id": f"{group_id}:deleted",
            "group_id": group_id,
            "version": DELETED_VERSION,
            "name": name or "",
            "credit_limits": {},
            "payment_terms_days": None,
            "deleted": True,
            "at": now_ms(),
        }
        await self.store.record_terms(doc)
        await self._recompute_members(group_id)

    async def members_changed(
        self, event_id: str, at: datetime, g: GroupMembersChanged, change: Literal["added", "removed"]
    ) -> None:
        """group.members.added / removed: recorded per customer (one insert), then their lines."""
        versions = g.versions if g.versions and len(g.versions) == len(g.customer_ids) else None
        docs: list[MembershipChange] = [
            {
                "_id": f"{event_id}:{customer_id}",
                "group_id": g.group_id,
                "customer_id": customer_id,
                "change": change,
                "version": versions[i] if versions else None,
                "at": to_ms(at),
            }
            for i, customer_id in enumerate(g.customer_ids)
        ]
        docs = list({d["_id"]: d for d in docs}.values())  # a customer named twice: the last
        erased = {d["customer_id"] for d in docs if await self.directory.is_erased(d["customer_id"])}
        await self.store.record_changes([d for d in docs if d["customer_id"] not in erased])
        for customer_id in dict.fromkeys(g.customer_ids):
            if customer_id not in erased:
                await self.recompute(customer_id, known_not_erased=True)

    async def _recompute_members(self, group_id: str) -> None:
        for customer_id in await self.store.customers_in(group_id):
            await self.recompute(customer_id)

    async def recompute(self, customer_id: str, known_not_erased: bool = False) -> None:
        """The customer's credit line from what is recorded now. Inputs are recorded before
        this runs and read after the line's version, so of concurrent recomputations the one
        committed last saw every input (the unique (customer, version) refuses a stale one)."""
        if not known_not_erased and await self.directory.is_erased(customer_id):
            return  # an erased customer's memberships are gone, and stay gone

        async def attempt() -> None:
            line = await self.store.line(customer_id)
            version = line["version"] if line else 0
            groups = current_groups(await self.store.changes_of(customer_id))
            terms = {g: newest_terms(await self.store.terms_of(g)) for g in groups}
            new = credit_line(customer_id, version + 1, groups, terms)
            if same_line(line, new):
                return
            await self.store.commit_line(new, customer_id, version + 1)

        await retry_on_conflict(attempt, tries=100)

    async def erase(self, customer_id: str) -> dict[str, int]:
        """customer.deleted: memberships and the credit line go. Counts per kind."""
        memberships = await self.store.forget(customer_id)
        lines = 0

        async def attempt() -> None:
            nonlocal lines
            line = await self.store.line(customer_id)
            if line is None:
                return
            await self.store.commit_line(None, customer_id, line["version"] + 1)
            lines = 1

        await retry_on_conflict(attempt, tries=100)
        return {"group_memberships": memberships, "credit_lines": lines}


def _same_terms(a: GroupTerms, b: GroupTerms) -> bool:
    return (a["credit_limits"], a["payment_terms_days"]) == (b["credit_limits"], b["payment_terms_days"])
