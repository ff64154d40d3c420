"""The use cases of the customers service: load, decide (domain), commit with events.

Every change of a customer goes through `_change` or `sync`: load the newest version, compute
the next state, and record it as version + 1 with its event (VersionedStore); another writer
of the same version makes us start again from fresh state. Derived data (statistics, addresses
learned from orders, group ids) is recomputed from what is stored, after loading the version it
builds on, so whichever writer commits last has seen every stored order.
"""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from crm_contracts import new_event
from crm_contracts.names import EventType
from crm_contracts.outbound import CustomerDeleted
from crm_contracts.types import utcnow
from crm_customers import addresses, domain, stats
from crm_customers.store import CustomerStore
from crm_servicekit.problems import Problem, conflict, not_found
from crm_servicekit.versioned import AlreadyApplied, retry_on_conflict

log = logging.getLogger(__name__)


def ms(t: datetime) -> datetime:
    """MongoDB keeps milliseconds: truncate first, so a stored and a fresh time compare equal."""
    return t.astimezone(UTC).replace(microsecond=t.microsecond // 1000 * 1000)


class Erased(Exception):
    """The customer an e-mail claim pointed at was erased meanwhile."""


def email_taken(email: str) -> Problem:
    return conflict(
        "email-taken",
        "E-mail already in use",
        f"a registered customer with e-mail {email!r} exists",
        errors=[{"field": "email", "message": "already in use"}],
    )


@dataclass
class Customers:
    store: CustomerStore
    source: str
    base_currency: str

    # committing

    def _event(self, type_: str, doc: dict[str, Any]) -> dict[str, Any]:
        return new_event(type_, self.source, domain.event_state(doc), subject=doc["id"])

    async def _commit(self, doc: dict[str, Any], event_type: str, cause: str | None = None) -> None:
        await self.store.customers.commit(
            doc["id"], doc["version"], doc, [self._event(event_type, doc)], cause=cause
        )

    async def _change(
        self,
        customer_id: str,
        mutate: Callable[[dict[str, Any]], dict[str, Any] | None],
        event_type: str = EventType.CUSTOMER_UPDATED,
    ) -> dict[str, Any]:
        """Apply `mutate` to the newest version (None or no difference: nothing to record)."""

        async def attempt() -> dict[str, Any]:
            doc = await self.store.get(customer_id)
            if doc is None:
                raise not_found("Customer", customer_id)
            changed = mutate(doc)
            if changed is None or domain.same_state(doc, changed):
                return doc
            new = domain.touch(changed, utcnow())
            await self._commit(new, event_type)
            return new

        return await retry_on_conflict(attempt)

    async def get(self, customer_id: str) -> dict[str, Any]:
        doc = await self.store.get(customer_id)
        if doc is None:
            raise not_found("Customer", customer_id)
        return doc

    # derived data

    def _derive(
        self, doc: dict[str, Any], views: list[stats.OrderView], group_ids: list[str]
    ) -> tuple[dict[str, Any], list[str]]:
        """Statistics, learned addresses, location and groups; also the orders whose shipping
        address was looked at (marked afterwards, so an address the customer deleted stays so)."""
        out = dict(doc)
        learned: list[str] = []
        addrs = doc.get("addresses", [])
        for v in sorted(views, key=lambda v: (v.order["placed_at"], v.order["_id"])):
            if not v.order.get("address_learned"):
                addrs = addresses.learn_from_order(
                    addrs, v.order["_id"], v.order.get("shipping_address"), v.order["placed_at"]
                )
                learned.append(v.order["_id"])
        out["addresses"] = addrs
        out["stats"] = stats.compute(views)
        out["spent"] = stats.spent_by_currency(out["stats"])
        out["spent_base"] = out["spent"].get(self.base_currency, 0)
        out["country"], out["city"] = domain.location(out, stats.latest_shipping_address(views))
        out["group_ids"] = group_ids
        return out, learned

    async def sync(
        self,
        customer_id: str,
        create: Callable[[], Awaitable[dict[str, Any]]] | None = None,
        cause: str | None = None,
    ) -> dict[str, Any] | None:
        """Bring derived data up to date; with `create`, make the customer if it does not exist.
        Returns the newest state (None: no such customer and nothing to create)."""
        return (await self._sync(customer_id, create, cause))[0]

    async def _sync(
        self,
        customer_id: str,
        create: Callable[[], Awaitable[dict[str, Any]]] | None = None,
        cause: str | None = None,
    ) -> tuple[dict[str, Any] | None, bool]:
        created = committed = False
        known: dict[str, Any] | None = None  # the version this call just committed

        async def attempt() -> tuple[dict[str, Any] | None, list[str]]:
            nonlocal created, committed, known
            # After our own commit there is no need to read it back: if someone else has
            # committed since, our next commit conflicts and the retry reads afresh.
            doc, known = (known, None) if known is not None else (await self.store.get(customer_id), None)
            if doc is None and (
                create is None
                or await self.store.customers.changes.find_one(
                    {"doc_id": customer_id, "state": None}, {"_id": 1}
                )
            ):
                if create is not None:
                    raise Erased(customer_id)
                return None, []
            base = doc if doc is not None else await create()  # type: ignore[misc]
            views = await self.store.order_views(customer_id)
            groups = await self.store.group_ids_of(customer_id)
            new, learned = self._derive(base, views, groups)
            if doc is None:
                new.update(domain.search_keys(new))
                try:
                    await self._commit(new, EventType.CUSTOMER_CREATED, cause)
                except AlreadyApplied:
                    return await self.store.get(customer_id), []
                created = committed = True
                known = new
                return new, learned
            if domain.same_state(doc, new):
                return doc, learned
            new = domain.touch(new, utcnow())
            await self._commit(new, EventType.CUSTOMER_UPDATED)
            committed = True
            known = new
            return new, learned

        doc, learned = await retry_on_conflict(attempt)
        await self.store.mark_addresses_learned(learned)
        # A version decided from orders/adjustments read before a concurrent cancellation or
        # refund was stored can still win the version race, while that handler, having read
        # the older version, found nothing to change. So after a commit derive once more from
        # fresh reads until nothing changes: the last writer has then seen everything stored.
        while committed:
            committed = False
            doc, learned = await retry_on_conflict(attempt)
            await self.store.mark_addresses_learned(learned)
        return doc, created

    # creating and registering

    async def _initial_consent(self, email: str) -> dict[str, Any]:
        c = await self.store.consent_for(domain.normalize_email(email))
        if c is None:
            return {}
        return {
            "email_subscribed": c["state"] == "subscribed",
            "marketing_consent": {"state": c["state"], "at": c["at"], "source": c["source"]},
        }

    async def owner_id(self, email: str, known_id: str | None = None) -> str:
        """Who an inbound event is about: the logged-in customer's id when it is known,
        else the owner of the e-mail (claimed now for a new guest if nobody owns it)."""
        if known_id and await self.store.get(known_id) is not None:
            return known_id
        return await self.store.claim_email(domain.normalize_email(email), domain.new_customer_id())

    async def ensure(
        self, customer_id: str, email: str, fields: dict[str, Any], cause: str | None
    ) -> dict[str, Any]:
        """The customer, created as a guest from `fields` if it does not exist yet, with its
        derived data up to date. Raises Erased if the id belongs to an erased customer."""
        now = ms(utcnow())

        async def create() -> dict[str, Any]:
            # Consent stated before the first order: looked up only for a new customer.
            initial = {**await self._initial_consent(email), **fields}
            return domain.new_customer(customer_id, email=email, now=now, has_account=False, **initial)

        doc = await self.sync(
            customer_id,
            create=create,
            cause=cause,
        )
        assert doc is not None
        return doc

    async def guest_for(self, email: str, fields: dict[str, Any], cause: str | None) -> dict[str, Any]:
        for _ in range(3):
            customer_id = await self.owner_id(email)
            try:
                return await self.ensure(customer_id, email, fields, cause)
            except Erased:
                await self.store.release_email(domain.normalize_email(email), customer_id)
        raise RuntimeError("the owner of this e-mail keeps being erased")

    async def register(
        self, email: str, has_account: bool, fields: dict[str, Any], password_hash: str | None
    ) -> tuple[dict[str, Any], bool]:
        """A new customer, or the guest with this e-mail turned into a registered customer
        (same record, history kept). Returns (customer, created)."""
        key = domain.normalize_email(email)
        new_id = domain.new_customer_id()
        owner = await self.store.claim_email(key, new_id)
        now = ms(utcnow())
        initial = await self._initial_consent(email)

        async def attempt() -> tuple[dict[str, Any], bool]:
            doc = await self.store.get(owner)
            if doc is None:

                async def create() -> dict[str, Any]:
                    return domain.new_customer(
                        owner, email=email, now=now, has_account=has_account, **{**initial, **fields}
                    )

                made, created = await self._sync(owner, create=create)
                assert made is not None
                if created:
                    return made, True
                doc = made  # a guest appeared first: register it below
            if doc["has_account"] or not has_account:
                raise email_taken(email)
            changed = {**doc, **fields, "has_account": True, "registered_at": now}
            new = domain.touch(changed, utcnow())
            await self._commit(new, EventType.CUSTOMER_REGISTERED)
            return new, False

        try:
            doc, created = await retry_on_conflict(attempt)
        except Erased:
            await self.store.release_email(key, owner)
            return await self.register(email, has_account, fields, password_hash)
        if password_hash:
            await self.store.set_password_hash(doc["id"], password_hash, now)
        return doc, created

    async def set_password(self, customer_id: str, password_hash: str) -> dict[str, Any]:
        """Sets or changes the password; a guest given one becomes a registered customer."""
        doc = await self.get(customer_id)
        if not doc["has_account"]:
            now = ms(utcnow())
            doc = await self._change(
                customer_id,
                lambda d: None if d["has_account"] else {**d, "has_account": True, "registered_at": now},
                EventType.CUSTOMER_REGISTERED,
            )
        await self.store.set_password_hash(customer_id, password_hash, ms(utcnow()))
        return doc

    # editing

    async def patch(self, customer_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        doc = await self.get(customer_id)
        new_email = changes.get("email")
        old_key, new_key = doc["email_key"], domain.normalize_email(new_email) if new_email else None
        claimed = False
        if new_key and new_key != old_key:
            owner = await self.store.claim_email(new_key, customer_id)
            if owner != customer_id:
                raise email_taken(new_email)  # type: ignore[arg-type]
            claimed = True

        def mutate(d: dict[str, Any]) -> dict[str, Any]:
            out = dict(d)
            for k, v in changes.items():
                if k == "metadata":
                    merged = {**d.get("metadata", {}), **(v or {})}
                    out["metadata"] = {mk: mv for mk, mv in merged.items() if mv is not None}
                    if len(out["metadata"]) > 50:
                        raise Problem(
                            422,
                            "validation-error",
                            "Invalid input",
                            "metadata: at most 50 keys",
                            errors=[{"field": "metadata", "message": "at most 50 keys"}],
                        )
                elif k == "email_subscribed":
                    if v is not None and v != d.get("email_subscribed"):
                        out = domain.set_consent(out, v, ms(utcnow()), "api")
                elif k == "tags":
                    out["tags"] = domain.clean_tags(v or [])
                elif k in ("email", "status") and v is None:
                    continue
                elif k == "birthday":
                    out["birthday"] = v.isoformat() if v else None
                else:
                    out[k] = v
            return out

        try:
            new = await self._change(customer_id, mutate)
        except BaseException:
            if claimed:
                await self.store.release_email(new_key, customer_id)  # type: ignore[arg-type]
            raise
        if claimed:
            await self.store.release_email(old_key, customer_id)
        return new

    async def edit_addresses(
        self, customer_id: str, edit: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
    ) -> dict[str, Any]:
        def mutate(d: dict[str, Any]) -> dict[str, Any]:
            out = {**d, "addresses": edit(d.get("addresses", []))}
            # Location follows the default shipping address; else keep what orders said.
            country, city = domain.location(out, None)
            if country is not None:
                out["country"], out["city"] = country, city
            return out

        doc = await self._change(customer_id, mutate)
        return await self.sync(customer_id) or doc  # location may fall back to the latest order

    async def set_consent(self, email: str, subscribed: bool, at: datetime, source: str, cause: str) -> None:
        """newsletter.subscribed / unsubscribed: an unknown e-mail becomes a subscribed guest,
        or is recorded as unsubscribed for when it becomes a customer."""
        key = domain.normalize_email(email)
        at = ms(at)
        owner = await self.store.owner_of(key)
        if owner is None or await self.store.get(owner) is None:
            await self.store.record_consent(
                key, {"state": "subscribed" if subscribed else "unsubscribed", "at": at, "source": source}
            )
            if not subscribed:
                return
            doc = await self.guest_for(email, {}, cause)
            owner = doc["id"]
        await self._change(owner, lambda d: domain.set_consent(d, subscribed, at, source))

    # erasing

    async def erase(self, customer_id: str) -> None:
        doc = await self.get(customer_id)
        keys = [doc["email_key"]]
        await self.store.erase_personal_data(customer_id, keys)

        async def attempt() -> None:
            d = await self.store.get(customer_id)
            if d is None:
                return
            version = d["version"] + 1
            gone = new_event(
                EventType.CUSTOMER_DELETED,
                self.source,
                CustomerDeleted(id=customer_id, version=version),
                subject=customer_id,
            )
            await self.store.customers.commit(customer_id, version, None, [gone])

        await retry_on_conflict(attempt)
        # Whatever a handler stored while we were erasing goes too.
        await self.store.erase_personal_data(customer_id, keys)
