"""Customers: use cases against an in-memory store (no broker, no database)."""

import copy
from datetime import UTC, datetime

import pytest

from crm_customers.service import Customers, PendingVerification
from crm_servicekit.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from crm_servicekit.versioned import VersionConflict

T0 = datetime(2026, 11, 1, 10, tzinfo=UTC)


class FakeStore:
    """What the use cases below need of CustomerStore, in dicts."""

    def __init__(self) -> None:
        self.docs: dict[str, dict] = {}
        self.versions: set[tuple[str, int]] = set()
        self.events: list[dict] = []
        self.emails: dict[str, str] = {}
        self.hashes: dict[str, dict] = {}
        self.consents: dict[str, dict] = {}
        self.verifications: dict[str, dict] = {}
        self.used: set[str] = set()
        self.outbox: list[dict] = []

    async def get(self, customer_id, probe=True):
        doc = self.docs.get(customer_id)
        return copy.deepcopy(doc) if doc is not None else None

    async def newer_recorded(self, customer_id, doc):
        return False  # the fake's projection is never behind

    async def commit(self, customer_id, version, doc, events, cause):
        if (customer_id, version) in self.versions:
            raise VersionConflict(customer_id)
        self.versions.add((customer_id, version))
        self.events.extend(events)
        if doc is None:
            self.docs.pop(customer_id, None)
        else:
            self.docs[customer_id] = copy.deepcopy(doc)

    async def was_erased(self, customer_id):
        return False

    async def claim_email(self, key, customer_id):
        return self.emails.setdefault(key, customer_id)

    async def owner_of(self, key):
        return self.emails.get(key)

    async def release_email(self, key, customer_id):
        if self.emails.get(key) == customer_id:
            del self.emails[key]

    async def order_views(self, customer_id):
        return []

    async def group_ids_of(self, customer_id):
        return []

    async def mark_addresses_learned(self, keys):
        pass

    async def consent_for(self, key):
        return self.consents.get(key)

    async def record_consent(self, key, consent):
        self.consents[key] = {"_id": key, **consent}

    async def set_password_hash(self, customer_id, hashed, at):
        self.hashes[customer_id] = {"_id": customer_id, "hash": hashed, "updated_at": at}

    async def password_hash(self, customer_id):
        return self.hashes.get(customer_id)

    async def add_verification(self, record, events):
        self.verifications[record["_id"]] = copy.deepcopy(record)
        self.outbox.extend(events)

    async def verification(self, sha):
        return copy.deepcopy(self.verifications.get(sha))

    async def use_verification(self, use):
        if use["_id"] in self.used:
            return False
        self.used.add(use["_id"])
        return True

    async def forget_verification(self, sha):
        self.verifications.pop(sha, None)


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def customers(store: FakeStore) -> Customers:
    return Customers(store, "/crm/customers", "EUR")  # type: ignore[arg-type]


def types(store: FakeStore) -> list[str]:
    return [e["type"] for e in store.events]


async def test_registering_a_guests_email_waits_for_the_email_to_be_verified(
    customers: Customers, store: FakeStore
):
    guest, created = await customers.register("ana@example.com", False, {"first_name": "Ana"}, None)
    assert created and guest["has_account"] is False
    pending = await customers.register(" ANA@example.com", True, {"last_name": "Silva"}, "a-long-password")
    assert isinstance(pending, PendingVerification)
    assert types(store) == ["customer.created"] and store.docs[guest["id"]]["has_account"] is False
    assert store.hashes == {}  # no password on the guest before verification
    (asked,) = store.outbox
    assert asked["type"] == "customer.verification.requested" and asked["data"]["customer_id"] == guest["id"]
    token = asked["data"]["token"]
    assert token not in str(store.verifications)  # only its hash is kept

    registered = await customers.verify(token)
    assert registered["id"] == guest["id"] and registered["has_account"]
    assert registered["first_name"] == "Ana" and registered["last_name"] == "Silva"
    assert guest["id"] in store.hashes
    assert types(store) == ["customer.created", "customer.registered"]
    with pytest.raises(DomainError) as used:  # single use
        await customers.verify(token)
    assert used.value.status == 404
    with pytest.raises(Conflict) as taken:
        await customers.register("ana@example.com", True, {}, None)
    assert taken.value.slug == "email-taken"


async def test_an_expired_token_hands_nothing_over(customers: Customers, store: FakeStore):
    guest, _ = await customers.register("rui@example.com", False, {}, None)
    customers.verification_hours = -1  # expired when made
    await customers.register("rui@example.com", True, {}, None)
    with pytest.raises(Invalid) as expired:
        await customers.verify(store.outbox[0]["data"]["token"])
    assert expired.value.slug == "verification-expired"
    assert store.docs[guest["id"]]["has_account"] is False
    with pytest.raises(DomainError) as unknown:
        await customers.verify("not-a-token")
    assert unknown.value.status == 404 and "not-a-token" not in str(unknown.value)


async def test_a_guest_has_no_password(customers: Customers, store: FakeStore):
    with pytest.raises(Invalid) as e:
        await customers.register("ana@example.com", False, {}, "a-long-password")
    assert e.value.extra["errors"] == [{"field": "password", "message": "only with has_account"}]
    assert store.docs == {} and store.emails == {}


async def test_consent_stated_before_the_customer_existed_is_kept(customers: Customers, store: FakeStore):
    await customers.set_consent("Ana@example.com", False, T0, "/newsletter", "ev-1")
    assert store.docs == {}  # an unsubscription alone makes no customer
    doc, _ = await customers.register("ana@example.com", True, {}, None)
    assert doc["email_subscribed"] is False
    assert doc["marketing_consent"] == {"state": "unsubscribed", "at": T0, "source": "/newsletter"}


async def test_a_wrong_current_password_is_refused(customers: Customers, store: FakeStore):
    doc, _ = await customers.register("ana@example.com", True, {}, "first-password")
    with pytest.raises(Forbidden) as e:
        await customers.set_password(doc["id"], "second-password", current="not-it")
    assert e.value.slug == "wrong-password"
    before = store.hashes[doc["id"]]["hash"]
    await customers.set_password(doc["id"], "second-password", current="first-password")
    assert store.hashes[doc["id"]]["hash"] != before


async def test_a_password_registers_a_guest(customers: Customers, store: FakeStore):
    guest, _ = await customers.register("ana@example.com", False, {}, None)
    doc = await customers.set_password(guest["id"], "a-long-password")
    assert doc["has_account"] is True and doc["registered_at"] is not None
    assert types(store) == ["customer.created", "customer.registered"]


async def test_editing_merges_metadata_and_keeps_the_email_claim_right(
    customers: Customers, store: FakeStore
):
    ana, _ = await customers.register("ana@example.com", True, {"metadata": {"a": 1, "b": 2}}, None)
    bob, _ = await customers.register("bob@example.com", True, {}, None)
    edited = await customers.edit(ana["id"], {"metadata": {"b": None, "c": "x"}, "tags": [" vip ", "vip"]})
    assert edited["metadata"] == {"a": 1, "c": "x"} and edited["tags"] == ["vip"]
    with pytest.raises(Conflict):
        await customers.edit(ana["id"], {"email": "BOB@example.com"})
    assert store.emails == {"ana@example.com": ana["id"], "bob@example.com": bob["id"]}
    with pytest.raises(Invalid):
        await customers.edit(ana["id"], {"metadata": {f"k{i}": i for i in range(50)}})
    moved = await customers.edit(ana["id"], {"email": "ana.silva@example.com"})
    assert moved["email_key"] == "ana.silva@example.com"
    assert store.emails == {"ana.silva@example.com": ana["id"], "bob@example.com": bob["id"]}


async def test_nothing_to_change_records_no_version(customers: Customers, store: FakeStore):
    ana, _ = await customers.register("ana@example.com", True, {"first_name": "Ana"}, None)
    same = await customers.edit(ana["id"], {"first_name": "Ana"})
    assert same["version"] == ana["version"] and types(store) == ["customer.created"]


async def test_addresses_one_default_per_type_and_location(customers: Customers):
    ana, _ = await customers.register("ana@example.com", True, {}, None)
    given = {
        "type": "shipping",
        "is_default": False,
        "first_name": None,
        "last_name": None,
        "company": None,
        "line1": "Rua A 1",
        "line2": None,
        "city": "Porto",
        "province": None,
        "postal_code": None,
        "country_code": "PT",
        "phone": None,
    }
    first = await customers.add_address(ana["id"], given)  # type: ignore[arg-type]
    assert first["is_default"] is True  # the first of its type
    doc = await customers.get(ana["id"])
    assert (doc["country"], doc["city"]) == ("PT", "Porto")
    with pytest.raises(NotFound):
        await customers.edit_address(ana["id"], "addr_nope", {"city": "Lisboa"})
    with pytest.raises(Invalid):
        await customers.edit_address(ana["id"], first["id"], {"city": None})  # type: ignore[typeddict-item]
    with pytest.raises(NotFound):
        await customers.get("cus_nobody")
