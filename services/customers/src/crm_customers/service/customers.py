"""The use cases of the customers service: load, decide (domain), commit with events; the only
writer.

Every change of a customer goes through `_change` or `sync`: load the newest version, compute
the next state, and record it as version + 1 with its event (VersionedStore); another writer
of the same version makes us start again from fresh state. Derived data (statistics, addresses
learned from orders, group ids) is recomputed from what is stored, after loading the version it
builds on, so whichever writer commits last has seen every stored order.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from crm_contracts import new_event
from crm_contracts.inbound import OrderCancelled, OrderPlaced, OrderRefunded
from crm_contracts.names import EventType
from crm_contracts.outbound import CustomerDeleted, CustomerVerificationRequested
from crm_contracts.types import email_key, utcnow
from crm_customers.domain import addresses, customer, merges, orders, stats, timeline, verification
from crm_customers.domain.documents import (
    Address,
    AddressChanges,
    Adjustment,
    ContactPreference,
    Credentials,
    Customer,
    CustomerChange,
    EmailClaim,
    ImportRow,
    NewAddress,
    Note,
    Profile,
    ProfileChanges,
    StoredConsent,
    Task,
    Verification,
)
from crm_customers.domain.passwords import hash_password, verify_password
from crm_customers.domain.timeline import HistoryItem
from crm_customers.service.agents import assignable
from crm_customers.service.tasks import remove_all_of
from crm_customers.store import CustomerStore
from crm_servicekit.clock import now_ms, to_ms
from crm_servicekit.errors import Conflict, Forbidden, Invalid, NotFound
from crm_servicekit.versioned import AlreadyApplied, VersionConflict, retry_on_conflict

log = logging.getLogger(__name__)

After = tuple[datetime, str] | None  # a page of a timeline starts after this (time, id)


async def _none() -> None:
    return None


class Erased(Exception):
    """The customer an e-mail claim pointed at was erased meanwhile."""


class _GuestFound(Exception):
    """Registering with a guest's e-mail: the e-mail is verified first."""

    def __init__(self, guest: Customer) -> None:
        super().__init__(guest["id"])
        self.guest = guest


@dataclass(frozen=True)
class PendingVerification:
    """A registration with a guest's e-mail, waiting for the e-mail to be verified (nothing of
    the guest is shown to whoever registered)."""

    email: str
    expires_at: datetime


@dataclass(frozen=True)
class Export:
    """Everything this service holds about a person (the right of access)."""

    customer: Customer
    orders: list[stats.OrderView]  # oldest first
    notes: list[Note]  # oldest first
    group_ids: list[str]
    consent_record: StoredConsent | None  # stated for the e-mail before it was a customer
    credentials: Credentials | None
    changes: list[CustomerChange]  # oldest first
    tasks: list[Task] = field(default_factory=list)  # soonest due first


@dataclass
class Customers:
    store: CustomerStore
    source: str
    base_currency: str
    verification_hours: float = 48

    # committing

    def _event(self, type_: str, doc: Customer) -> dict[str, Any]:
        joining = type_ in (EventType.CUSTOMER_CREATED, EventType.CUSTOMER_REGISTERED)
        state = customer.event_state(doc, created=joining)
        return new_event(type_, self.source, state, subject=doc["id"])

    async def _commit(self, doc: Customer, event_type: str, cause: str | None = None) -> None:
        await self.store.commit(doc["id"], doc["version"], doc, [self._event(event_type, doc)], cause)

    async def _change(
        self,
        customer_id: str,
        mutate: Callable[[Customer], Customer | None],
        event_type: str = EventType.CUSTOMER_UPDATED,
    ) -> Customer:
        """Apply `mutate` to the newest version (None or no difference: nothing to record)."""

        async def attempt() -> Customer:
            doc = await self.get(customer_id)
            changed = mutate(doc)
            if changed is None or customer.same_state(doc, changed):
                return doc
            new = customer.touch(changed, utcnow())
            await self._commit(new, event_type)
            return new

        done: Customer = await retry_on_conflict(attempt)
        return done

    async def get(self, customer_id: str) -> Customer:
        doc = await self.store.get(customer_id)
        if doc is None:
            raise NotFound("Customer", customer_id)
        return doc

    # derived data

    def _derive(
        self, doc: Customer, views: list[stats.OrderView], group_ids: list[str]
    ) -> tuple[Customer, list[str]]:
        """Statistics, learned addresses, location and groups; also the orders whose shipping
        address was looked at (marked afterwards, so an address the customer deleted stays so)."""
        out: Customer = {**doc}
        learned: list[str] = []
        addrs = doc["addresses"]
        for v in sorted(views, key=lambda v: (v.order["placed_at"], v.order["_id"])):
            if not v.order.get("address_learned"):
                addrs = addresses.learn_from_order(
                    addrs, v.order["_id"], v.order["shipping_address"], v.order["placed_at"]
                )
                learned.append(v.order["_id"])
        out["addresses"] = addrs
        out["stats"] = stats.compute(views)
        out["spent"] = stats.spent_by_currency(out["stats"])
        out["spent_base"] = out["spent"].get(self.base_currency, 0)
        out["country"], out["city"] = customer.location(out, stats.latest_shipping_address(views))
        out["group_ids"] = group_ids
        out["derived_from"] = len(views) + sum(v.adjustments for v in views)
        return out, learned

    async def sync(
        self,
        customer_id: str,
        create: Callable[[], Awaitable[Customer]] | None = None,
        cause: str | None = None,
        groups_unchanged: bool = False,
        read: Customer | None = None,
        minted: bool = False,
    ) -> Customer | None:
        """Bring derived data up to date; with `create`, make the customer if it does not exist.
        Returns the newest state (None: no such customer and nothing to create).
        `groups_unchanged` (an order, a cancellation, a refund): the groups are taken from the
        version the change builds on instead of being read again. Safe because whoever stores a
        membership reads the memberships after storing it and commits on a newer version
        (a commit on an older one conflicts and reads afresh), so no version drops it.
        `read`: the customer as read before the change was stored, taken as the first attempt's
        base instead of reading it again (`derived_from` still sees the change as new).
        `minted`: the id was made by this handler a moment ago (a new guest's claim), so no
        version of it exists or was erased: the first attempt creates without reading (another
        handler of the same e-mail creating it meanwhile makes the commit conflict)."""
        return (await self._sync(customer_id, create, cause, groups_unchanged, read, minted))[0]

    async def _sync(
        self,
        customer_id: str,
        create: Callable[[], Awaitable[Customer]] | None = None,
        cause: str | None = None,
        groups_unchanged: bool = False,
        read: Customer | None = None,
        minted: bool = False,
    ) -> tuple[Customer | None, bool]:
        created = False
        tries = 0

        async def attempt() -> tuple[Customer | None, list[str]]:
            nonlocal created, read, tries
            tries += 1
            # The first attempt without a read of its own takes the projection alone (one
            # read): a commit on a stale one conflicts, and the retry probes; a decision to
            # change nothing is checked against the version after it (`unchanged`).
            unprobed = read is None and tries == 1
            new_id = minted and tries == 1
            doc: Customer | None
            if read is not None:
                doc, read = read, None
            else:
                doc = None if new_id else await self.store.get(customer_id, not unprobed)

            async def unchanged() -> None:
                if unprobed and await self.store.newer_recorded(customer_id, doc):
                    raise VersionConflict(customer_id)  # decide again on the newest

            if doc is not None:
                base = doc
            elif create is None:
                await unchanged()
                return None, []
            elif not new_id and await self.store.was_erased(customer_id):
                raise Erased(customer_id)
            else:
                base = await create()
            views = await self.store.order_views(customer_id)
            if groups_unchanged and doc is not None and "group_ids" in doc:
                groups = doc["group_ids"]
            else:  # also for a new customer: memberships may have come before it
                groups = await self.store.group_ids_of(customer_id)
            new, learned = self._derive(base, views, groups)
            if doc is None:
                new.update(customer.keys_of(new))
                try:
                    await self._commit(new, EventType.CUSTOMER_CREATED, cause)
                except AlreadyApplied:
                    # Created by this event's first handling, which may have stopped before
                    # marking the addresses learned: decide again on the recorded customer.
                    raise VersionConflict(customer_id) from None
                created = True
                return new, learned
            if customer.same_state(doc, new):
                await unchanged()
                return doc, learned
            new = customer.touch(new, utcnow())
            await self._commit(new, EventType.CUSTOMER_UPDATED)
            return new, learned

        # No second derivation to catch what was stored meanwhile: a handler stores its order,
        # cancellation or refund before reading the orders, and a version not derived from it
        # has a smaller `derived_from`, so that handler finds a change and commits (or conflicts
        # and reads afresh), even when a cancellation leaves the visible state as it was.
        doc, learned = await retry_on_conflict(attempt)
        await self.store.mark_addresses_learned(learned)
        return doc, created

    # creating and registering

    async def _initial_consent(self, email: str) -> Profile:
        c = await self.store.consent_for(email_key(email))
        if c is None:
            return {}
        return {
            "email_subscribed": c["state"] == "subscribed",
            "marketing_consent": {"state": c["state"], "at": c["at"], "source": c["source"]},
        }

    async def owner_id(self, email: str, known_id: str | None = None) -> tuple[str, Customer | None, bool]:
        """Who an inbound event is about: the logged-in customer's id when it is known (with
        the customer as read), else the owner of the e-mail (claimed now for a new guest if
        nobody owns it; then True: the id was minted here). Looked up before claiming: most
        e-mails are owned already."""
        if known_id and (doc := await self.store.get(known_id)) is not None:
            return known_id, doc, False
        key = email_key(email)
        if owner := await self.store.owner_of(key):
            return owner, None, False
        new_id = customer.new_customer_id()
        owner = await self.store.claim_email(key, new_id)
        return owner, None, owner == new_id

    async def ensure(
        self,
        customer_id: str,
        email: str,
        fields: Profile,
        cause: str | None,
        groups_unchanged: bool = False,
        read: Customer | None = None,
        minted: bool = False,
    ) -> Customer:
        """The customer, created as a guest from `fields` if it does not exist yet, with its
        derived data up to date (`groups_unchanged`, `read`, `minted`: as for `sync`). Raises Erased if
        the id belongs to an erased customer."""
        now = now_ms()

        async def create() -> Customer:
            # Consent stated before the first order: looked up only for a new customer.
            initial: Profile = {**await self._initial_consent(email), **fields}
            return customer.new_customer(customer_id, email=email, now=now, has_account=False, **initial)

        doc = await self.sync(
            customer_id,
            create=create,
            cause=cause,
            groups_unchanged=groups_unchanged,
            read=read,
            minted=minted,
        )
        assert doc is not None
        return doc

    async def guest_for(self, email: str, fields: Profile, cause: str | None) -> Customer:
        for _ in range(3):
            customer_id, _, minted = await self.owner_id(email)
            try:
                return await self.ensure(customer_id, email, fields, cause, minted=minted)
            except Erased:
                await self.store.release_email(email_key(email), customer_id)
        raise RuntimeError("the owner of this e-mail keeps being erased")

    async def register(
        self,
        email: str,
        has_account: bool,
        given: ProfileChanges,
        password: str | None,
        notes: list[tuple[str, str | None]] | None = None,
        new_addresses: list[NewAddress] | None = None,
    ) -> tuple[Customer, bool] | PendingVerification:
        """A new customer; `password` (registered customers only) is hashed; `notes` ((body,
        author) pairs) and `new_addresses` are added to it. Returns (customer, created). An
        account for a guest's e-mail waits for that e-mail to be verified
        (PendingVerification): `verify` then turns the guest into the registered customer
        (same record, history kept)."""
        if password and not has_account:
            raise Invalid(
                "a guest has no password", errors=[{"field": "password", "message": "only with has_account"}]
            )
        if agent_id := given.get("sales_agent_id"):
            await assignable(self.store, "sales_agent_id", agent_id)
        profile = customer.new_profile(given, now_ms())
        hashed = await hash_password(password) if password else None
        try:
            doc, created = await self._register(email, has_account, profile, hashed)
        except _GuestFound as found:
            return await self._request_verification(found.guest, email, profile, hashed, notes, new_addresses)
        for body, author in notes or []:
            await self.add_note(doc["id"], body, author)
        for address in new_addresses or []:
            await self.add_address(doc["id"], address)
        if new_addresses:
            doc = await self.get(doc["id"])
        return doc, created

    async def _register(
        self, email: str, has_account: bool, fields: Profile, password_hash: str | None
    ) -> tuple[Customer, bool]:
        key = email_key(email)
        new_id = customer.new_customer_id()
        owner = await self.store.claim_email(key, new_id)
        now = now_ms()
        given: Profile = {**await self._initial_consent(email), **fields}

        async def attempt() -> tuple[Customer, bool]:
            doc = await self.store.get(owner)
            if doc is None:

                async def create() -> Customer:
                    return customer.new_customer(
                        owner, email=email, now=now, has_account=has_account, **given
                    )

                made, created = await self._sync(owner, create=create)
                assert made is not None
                if created:
                    return made, True
                doc = made  # a guest appeared first: its e-mail is verified first (below)
            if doc["has_account"] or not has_account:
                raise customer.email_taken(email)
            raise _GuestFound(doc)

        try:
            doc, created = await retry_on_conflict(attempt)
        except Erased:
            await self.store.release_email(key, owner)
            return await self._register(email, has_account, fields, password_hash)
        if password_hash:
            await self.store.set_password_hash(doc["id"], password_hash, now)
        return doc, created

    async def import_batch(self, rows: list[ImportRow]) -> tuple[int, int, list[ImportRow]]:
        """New customers for the rows whose e-mail nobody owns, a batch in a few commands
        (claims, consents, change records, projections); each is one version 1 with its
        `customer.created`. Returns (created, existing, rows left for `import_customer`: an
        e-mail claimed but without a customer, e.g. by an import that stopped half-way)."""
        now = now_ms()
        claims: list[EmailClaim] = [
            {"_id": email_key(r["email"]), "customer_id": customer.new_customer_id()} for r in rows
        ]
        owned = await self.store.claim_emails(claims)
        fresh = [i for i in range(len(rows)) if i not in owned]
        consents = await self.store.consents_for([claims[i]["_id"] for i in fresh])
        docs: list[Customer] = []
        for i in fresh:
            row, claim = rows[i], claims[i]
            c = consents.get(claim["_id"])
            initial: Profile = (
                {
                    "email_subscribed": c["state"] == "subscribed",
                    "marketing_consent": {"state": c["state"], "at": c["at"], "source": c["source"]},
                }
                if c
                else {}
            )
            given: Profile = {**initial, **self._imported_profile(row["profile"], row["addresses"], now)}
            doc = customer.new_customer(
                claim["customer_id"], email=row["email"], now=now, has_account=row["has_account"], **given
            )
            doc["country"], doc["city"] = customer.location(doc, None)
            docs.append(doc)
        # An import is bulk traffic (docs/contract.md 1): its events are marked so that live
        # events need not wait behind them.
        events = [{**self._event(EventType.CUSTOMER_CREATED, d), "crmlane": "bulk"} for d in docs]
        raced = await self.store.create_many(docs, events)
        created = len(docs) - len(raced)
        # Claimed before: a customer exists (unchanged), or only the claim does (the single path
        # decides, after reading the owner).
        before = sorted(owned)
        owners = await asyncio.gather(*(self.store.owner_of(claims[i]["_id"]) for i in before))
        found = await asyncio.gather(*(self.store.get(o) if o else _none() for o in owners))
        leftover = [rows[i] for i, f in zip(before, found, strict=True) if f is None]
        existing = len(owned) - len(leftover) + len(raced)
        return created, existing, leftover

    def _imported_profile(
        self, given: ProfileChanges, new_addresses: list[NewAddress], now: datetime
    ) -> Profile:
        profile = customer.new_profile(given, now)
        addrs: list[Address] = []
        for a in new_addresses:
            addrs = addresses.add(addrs, addresses.new_address(a, now))
        profile["addresses"] = addrs
        return profile

    async def import_customer(
        self, email: str, has_account: bool, given: ProfileChanges, new_addresses: list[NewAddress]
    ) -> bool:
        """One row of a CSV import: a new customer with its profile and addresses in one
        version; an e-mail that already has a customer changes nothing. True: created."""
        owner = await self.store.owner_of(email_key(email))
        if owner is not None and await self.store.get(owner) is not None:
            return False
        if agent_id := given.get("sales_agent_id"):
            await assignable(self.store, "sales_agent_id", agent_id)
        profile = self._imported_profile(given, new_addresses, now_ms())
        key = email_key(email)
        claimed = await self.store.claim_email(key, customer.new_customer_id())
        if await self.store.get(claimed) is not None:
            return False  # created meanwhile (an order, another import)
        try:
            _, created = await self._register(email, has_account, profile, None)
        except (Conflict, _GuestFound):
            return False
        return created

    async def _request_verification(
        self,
        guest: Customer,
        email: str,
        profile: Profile,
        password_hash: str | None,
        notes: list[tuple[str, str | None]] | None,
        new_addresses: list[NewAddress] | None,
    ) -> PendingVerification:
        """The registration kept until its e-mail is verified; its token goes out once, in
        customer.verification.requested, for the storefront to e-mail (only its hash stays)."""
        token, token_sha256 = verification.new_token()
        now = now_ms()
        expires_at = now + timedelta(hours=self.verification_hours)
        record: Verification = {
            "_id": token_sha256,
            "customer_id": guest["id"],
            "email": email,
            "profile": profile,
            "password_hash": password_hash,
            "notes": [{"body": b, "author": a} for b, a in notes or []],
            "addresses": list(new_addresses or []),
            "requested_at": now,
            "expires_at": expires_at,
        }
        asked = CustomerVerificationRequested(
            customer_id=guest["id"], email=email, token=token, expires_at=expires_at
        )
        event = new_event(EventType.CUSTOMER_VERIFICATION_REQUESTED, self.source, asked, subject=guest["id"])
        await self.store.add_verification(record, [event])
        return PendingVerification(email=email, expires_at=expires_at)

    async def verify(self, token: str) -> Customer:
        """The e-mail of a registration is verified: the guest becomes the registered customer
        (same record: its orders and statistics are the account's), once. The token is single
        use (claimed by insert) and expires; an unknown or used one is TokenUnknown."""
        token_sha256 = verification.token_hash(token)
        record = await self.store.verification(token_sha256)
        if record is None:
            raise verification.token_unknown()
        now = now_ms()
        if verification.is_expired(record["expires_at"], now):
            raise verification.token_expired()
        used = await self.store.use_verification(
            {"_id": token_sha256, "customer_id": record["customer_id"], "at": now}
        )
        if not used:
            raise verification.token_unknown()
        profile = record["profile"]

        async def attempt() -> Customer:
            doc = await self.get(record["customer_id"])  # NotFound once erased
            if doc["has_account"]:  # registered meanwhile (another token, a password)
                raise customer.email_taken(doc["email"])
            new = customer.touch(customer.register(doc, profile, now), utcnow())
            await self._commit(new, EventType.CUSTOMER_REGISTERED)
            return new

        doc: Customer = await retry_on_conflict(attempt)
        if record["password_hash"]:
            await self.store.set_password_hash(doc["id"], record["password_hash"], now)
        for note in record["notes"]:
            await self.add_note(doc["id"], note["body"], note["author"])
        for address in record["addresses"]:
            await self.add_address(doc["id"], address)
        await self.store.forget_verification(token_sha256)
        return await self.get(doc["id"]) if record["addresses"] else doc

    async def set_password(self, customer_id: str, password: str, current: str | None = None) -> Customer:
        """Sets or changes the password (Argon2id hash; never returned); with `current`, it
        must match the one set now (Forbidden otherwise). A guest given a password becomes a
        registered customer."""
        await self.get(customer_id)
        if current is not None:
            stored = await self.store.password_hash(customer_id)
            if stored is None or not await verify_password(stored["hash"], current):
                raise Forbidden(slug="wrong-password", title="Current password does not match")
        hashed = await hash_password(password)
        doc = await self.get(customer_id)
        if not doc["has_account"]:
            now = now_ms()
            doc = await self._change(
                customer_id,
                lambda d: None if d["has_account"] else customer.register(d, {}, now),
                EventType.CUSTOMER_REGISTERED,
            )
        await self.store.set_password_hash(customer_id, hashed, now_ms())
        return doc

    async def authenticate(self, email: str, password: str) -> Customer:
        """The customer whose e-mail and password these are (a storefront's login). A wrong
        pair is InvalidCredentials whichever part is wrong, after the same Argon2 work, so
        neither the answer nor its time tells whether the e-mail is known; an inactive
        account is `account-disabled`, said only to whoever knows its password."""
        owner = await self.store.owner_of(email_key(email))
        doc = await self.store.get(owner) if owner else None
        stored = await self.store.password_hash(doc["id"]) if doc and doc["has_account"] else None
        if not await verify_password(stored["hash"] if stored else None, password) or doc is None:
            raise customer.InvalidCredentials()
        if doc["status"] != "enabled":
            raise customer.account_disabled()
        return doc

    async def retag(
        self, customer_ids: list[str], add: list[str], remove: list[str]
    ) -> tuple[list[str], list[str], list[str]]:
        """Tags added to and removed from each customer given, one version (and one
        customer.updated) per customer that changes. Returns (updated, unchanged, not found)."""
        updated: list[str] = []
        unchanged: list[str] = []
        missing: list[str] = []
        for customer_id in dict.fromkeys(customer_ids):
            try:
                before = await self.get(customer_id)
            except NotFound:
                missing.append(customer_id)
                continue
            after = await self._change(customer_id, lambda d: customer.retag(d, add, remove))
            (updated if after["version"] != before["version"] else unchanged).append(customer_id)
        return updated, unchanged, missing

    # editing

    async def edit(self, customer_id: str, changes: ProfileChanges) -> Customer:
        """Only the fields given change (an e-mail taken by another customer: Conflict)."""
        for required in ("email", "status"):
            if required in changes and changes.get(required) is None:
                raise Invalid(
                    f"{required} cannot be null", errors=[{"field": required, "message": "cannot be null"}]
                )
        doc = await self.get(customer_id)
        agent_id = changes.get("sales_agent_id")
        if agent_id is not None and agent_id != doc.get("sales_agent_id"):
            await assignable(self.store, "sales_agent_id", agent_id)
        new_email = changes.get("email")
        old_key, new_key = doc["email_key"], email_key(new_email) if new_email else None
        claimed = False
        if new_email and new_key and new_key != old_key:
            owner = await self.store.claim_email(new_key, customer_id)
            if owner != customer_id:
                raise customer.email_taken(new_email)
            claimed = True
        try:
            new = await self._change(customer_id, lambda d: customer.edit(d, changes, now_ms()))
        except BaseException:
            if claimed and new_key:
                await self.store.release_email(new_key, customer_id)
            raise
        if claimed:
            await self.store.release_email(old_key, customer_id)
        return new

    async def _edit_addresses(
        self, customer_id: str, edit: Callable[[list[Address]], list[Address]]
    ) -> Customer:
        def mutate(d: Customer) -> Customer:
            out: Customer = {**d, "addresses": edit(d["addresses"])}
            # Location follows the default shipping address; else keep what orders said.
            country, city = customer.location(out, None)
            if country is not None:
                out["country"], out["city"] = country, city
            return out

        doc = await self._change(customer_id, mutate)
        return await self.sync(customer_id) or doc  # location may fall back to the latest order

    async def take_addresses_and_tags(self, kept_id: str, other: Customer) -> tuple[int, list[str]]:
        """A merge: the kept customer gains the other's addresses and tags (one version).
        Returns (addresses added, tags added)."""
        added: tuple[int, list[str]] = (0, [])

        def take(d: Customer) -> Customer:
            nonlocal added
            out, n, new_tags = merges.merged_into(d, other)
            added = (n, new_tags)
            return out

        await self._change(kept_id, take)
        return added

    async def _address(self, customer_id: str, address_id: str) -> Address:
        found = addresses.find((await self.get(customer_id))["addresses"], address_id)
        if found is None:
            raise NotFound("Address", address_id)
        return found

    async def add_address(self, customer_id: str, given: NewAddress) -> Address:
        address = addresses.new_address(given, now_ms())
        doc = await self._edit_addresses(customer_id, lambda a: addresses.add(a, address))
        return await self._address_of(doc, address["id"])

    async def edit_address(self, customer_id: str, address_id: str, changes: AddressChanges) -> Address:
        for required in ("type", "line1", "city", "country_code", "is_default"):
            if required in changes and changes.get(required) is None:
                raise Invalid(
                    f"{required} cannot be null", errors=[{"field": required, "message": "cannot be null"}]
                )
        await self._address(customer_id, address_id)

        def edit(current: list[Address]) -> list[Address]:
            if addresses.find(current, address_id) is None:
                raise NotFound("Address", address_id)
            return addresses.edit(current, address_id, changes)

        doc = await self._edit_addresses(customer_id, edit)
        return await self._address_of(doc, address_id)

    async def _address_of(self, doc: Customer, address_id: str) -> Address:
        found = addresses.find(doc["addresses"], address_id)
        if found is None:  # removed meanwhile by another request
            raise NotFound("Address", address_id)
        return found

    async def remove_address(self, customer_id: str, address_id: str) -> None:
        await self._address(customer_id, address_id)
        await self._edit_addresses(customer_id, lambda a: addresses.remove(a, address_id))

    # notes: private, timestamped; not part of the customer's versioned state nor of its events

    async def add_note(self, customer_id: str, body: str, author: str | None) -> Note:
        await self.get(customer_id)
        note: Note = {
            "_id": f"note_{uuid4().hex}",
            "customer_id": customer_id,
            "body": body,
            "author": author,
            "created_at": now_ms(),
        }
        await self.store.add_note(note)
        return note

    async def edit_note(self, customer_id: str, note_id: str, body: str, by: str | None) -> Note:
        """A new body for the note, with when and by whom it was edited."""
        await self.get(customer_id)
        if not await self.store.edit_note(customer_id, note_id, body, now_ms(), by):
            raise NotFound("Note", note_id)
        note = await self.store.note(customer_id, note_id)
        if note is None:  # deleted meanwhile
            raise NotFound("Note", note_id)
        return note

    async def delete_note(self, customer_id: str, note_id: str) -> None:
        if not await self.store.delete_note(customer_id, note_id):
            raise NotFound("Note", note_id)

    # consent

    async def set_consent(self, email: str, subscribed: bool, at: datetime, source: str, cause: str) -> None:
        """newsletter.subscribed / unsubscribed: an unknown e-mail becomes a subscribed guest,
        or is recorded as unsubscribed for when it becomes a customer."""
        key = email_key(email)
        at = to_ms(at)
        owner = await self.store.owner_of(key)
        if owner is None or await self.store.get(owner) is None:
            await self.store.record_consent(
                key, {"state": "subscribed" if subscribed else "unsubscribed", "at": at, "source": source}
            )
            if not subscribed:
                return
            doc = await self.guest_for(email, {}, cause)
            owner = doc["id"]
        await self._change(owner, lambda d: customer.set_consent(d, subscribed, at, source))

    async def set_contact_preferences(
        self, customer_id: str, preferences: list[ContactPreference], at: datetime
    ) -> None:
        """preferences.updated (engagement's preference centre): consent per topic and channel.
        A customer this service does not know (erased, or not yet created) is left alone."""
        if await self.store.get(customer_id) is None:
            return
        await self._change(customer_id, lambda d: customer.set_contact_preferences(d, preferences, to_ms(at)))

    # orders

    async def record_order(self, source: str, event_id: str, order: OrderPlaced) -> None:
        """order.placed: the order stored once, for the logged-in customer or the owner of its
        e-mail (a new guest if nobody), whose statistics then follow."""
        who = order.customer
        key = orders.order_key(source, order.order_id)
        fields: Profile = {
            "first_name": who.first_name,
            "last_name": who.last_name,
            "phone": customer.phone_or_none(who.phone),
        }
        for _ in range(3):
            customer_id, read, minted = await self.owner_id(who.email, who.customer_id)
            stored = await self.store.record_order(orders.new_order(source, event_id, order, customer_id))
            # A cancellation or refund may have come first: it now belongs to this customer.
            await self.store.attach_adjustments(key, stored["customer_id"])
            try:
                await self.ensure(
                    stored["customer_id"],
                    who.email,
                    fields,
                    cause=event_id,
                    groups_unchanged=True,
                    # the customer read by id, unless a redelivery found the order stored for another
                    read=read if read is not None and stored["customer_id"] == customer_id else None,
                    minted=minted and stored["customer_id"] == customer_id,
                )
                return
            except Erased:
                # The e-mail pointed at a customer erased meanwhile: this order is a new person's.
                await self.store.release_email(email_key(who.email), stored["customer_id"])
                await self.store.forget_order(key, stored["customer_id"])
        raise RuntimeError(f"order {key}: its customer keeps being erased")

    async def cancel_order(self, source: str, event_id: str, cancelled: OrderCancelled) -> None:
        await self._adjust(orders.cancellation(source, event_id, cancelled))

    async def refund_order(self, source: str, event_id: str, refunded: OrderRefunded) -> None:
        await self._adjust(orders.refund(source, event_id, refunded))

    async def _adjust(self, adjustment: Adjustment) -> None:
        """A cancellation or refund is stored with its order's customer when the order is here;
        statistics follow now, otherwise when the order arrives (which attaches it then)."""
        key = adjustment["order_key"]
        order = await self.store.order(key)
        fresh = await self.store.record_adjustment(
            {**adjustment, "customer_id": order["customer_id"] if order else None}
        )
        if order is not None and not fresh:
            # A redelivery: the first delivery may have stored it before the order was known.
            await self.store.attach_adjustments(key, order["customer_id"])
        elif order is None:
            order = await self.store.order(key)  # it may have arrived meanwhile: look again
            if order is None:
                return
            await self.store.attach_adjustments(key, order["customer_id"])
        await self.sync(order["customer_id"], groups_unchanged=True)

    # groups

    async def record_membership(
        self,
        group_id: str,
        customer_ids: list[str],
        member: bool,
        at: datetime,
        event_id: str,
        versions: list[int] | None = None,
    ) -> None:
        """group.members.added / removed; unknown ids are kept, applied if the customer appears.
        `versions`: each pair's version, in the order of `customer_ids` (when groups sends them)."""
        paired = versions if versions and len(versions) == len(customer_ids) else [None] * len(customer_ids)
        for customer_id, version in zip(customer_ids, paired, strict=True):
            await self.store.record_membership(group_id, customer_id, member, to_ms(at), event_id, version)
            await self.sync(customer_id)

    async def remove_group(self, group_id: str) -> None:
        await self.store.remove_group(group_id)
        for customer_id in await self.store.members_of(group_id):
            await self.sync(customer_id)

    # reading

    async def history(self, customer_id: str, limit: int, after: After) -> list[HistoryItem]:
        """Newest first: the customer's recorded changes, its orders (with their cancellations
        and refunds) and notes, merged by time, from just before `after`. Everything at the
        instant of `after` is read, so a page cut there skips nothing. (The caller has
        checked that the customer exists.)"""
        before = after[0] if after else None
        start = (before, timeline.LAST_AT) if before else None
        items = timeline.merge(
            await self.store.changes_page(customer_id, limit, before),
            await self.store.orders_page(customer_id, limit, start),
            await self.store.notes_page(customer_id, limit, start),
            before,
        )
        if after:
            items = [i for i in items if (i["at"], i["id"]) < after]
        return items

    async def export(self, customer_id: str) -> Export:
        doc = await self.get(customer_id)
        views = await self.store.order_views(customer_id)
        views.sort(key=lambda v: (v.order["placed_at"], v.order["_id"]))
        notes = await self.store.notes_page(customer_id, 100_000)
        credentials = await self.store.password_hash(customer_id)
        changes = await self.store.changes_page(customer_id, 100_000)
        return Export(
            customer=doc,
            orders=views,
            notes=list(reversed(notes)),
            group_ids=await self.store.group_ids_of(customer_id),
            consent_record=await self.store.consent_for(doc["email_key"]),
            credentials=credentials,
            changes=list(reversed(changes)),
            tasks=await self.store.tasks_of(customer_id),
        )

    # erasing

    async def erase(self, customer_id: str) -> None:
        """Every personal datum this service holds goes; `customer.deleted {id, version}` tells
        the other services to erase or anonymise their copies."""
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
            await self.store.commit(customer_id, version, None, [gone], None)

        await remove_all_of(self.store, self.source, customer_id)
        await retry_on_conflict(attempt)
        # Whatever a handler or request stored while we were erasing goes too.
        await self.store.erase_personal_data(customer_id, keys)
        await remove_all_of(self.store, self.source, customer_id)
