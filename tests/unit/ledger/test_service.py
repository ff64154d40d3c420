"""The ledger's use cases against in-memory fakes of its stores: what the API and the event
handlers get back (domain errors with their HTTP members, events, parked points)."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from crm_contracts.inbound import OrderPlaced
from crm_contracts.outbound import CustomerState
from crm_contracts.types import email_key
from crm_ledger.domain import AccountState, HoldNotActive, InsufficientFunds, Program
from crm_ledger.service import Customers, Ledger, Rewards
from crm_ledger.store import account_key
from crm_servicekit.errors import Conflict, Invalid, NotFound
from crm_servicekit.versioned import AlreadyApplied, VersionConflict

PROGRAM = Program(
    points_per_unit=1,
    target=100,
    coupon_kind="amount",
    coupon_value=500,
    coupon_currency="EUR",
    coupon_days=30,
)


class FakeJournal:
    """Appends like store.Journal (once per record id, state from the newest record)."""

    def __init__(self):
        self.records: dict[str, dict] = {}

    async def latest(self, account):
        mine = [r for r in self.records.values() if r["account"] == account]
        return max(mine, key=lambda r: r["sequence"]) if mine else None

    async def get(self, record_id):
        return self.records.get(record_id)

    async def append(self, customer_id, currency, record_id, decide, events):
        if record_id in self.records:
            return self.records[record_id], True
        account = account_key(customer_id, currency)
        state = AccountState.after(await self.latest(account), currency)
        change = decide(state)
        doc = {
            "_id": record_id,
            "account": account,
            "customer_id": customer_id,
            "currency": currency,
            "sequence": state.sequence + 1,
            "type": change.type,
            "kind": change.kind,
            "amount": change.amount,
            "balance_after": change.state.balance,
            "available_after": change.state.available,
            "state": change.state.to_doc(),
            "at": datetime.now(UTC),
            **change.fields,
        }
        doc["events"] = events(doc)
        self.records[record_id] = doc
        return doc, False

    async def hold_records(self, hold_id):
        return sorted(
            (r for r in self.records.values() if r.get("hold_id") == hold_id), key=lambda r: r["sequence"]
        )

    async def anonymise(self, customer_id):
        pass


def ledger() -> tuple[Ledger, FakeJournal]:
    journal = FakeJournal()
    return Ledger(journal, "/crm/ledger", 900), journal  # type: ignore[arg-type]


def order(
    customer_id: str | None, credit: int, total: int = 0, hold_id: str | None = None, email="a@example.com"
):
    return OrderPlaced.model_validate(
        {
            "order_id": "o1",
            "placed_at": datetime.now(UTC).isoformat(),
            "customer": {"email": email, "customer_id": customer_id},
            "currency": "EUR",
            "total": max(total, credit),
            "store_credit_used": credit,
            "hold_id": hold_id,
        }
    )


async def test_a_debit_beyond_the_balance_is_refused_with_the_http_members_and_moves_nothing():
    lg, journal = ledger()
    await lg.record_entry("c1", "EUR", "ent_1", "funding", 700)
    with pytest.raises(InsufficientFunds) as e:
        await lg.record_entry("c1", "EUR", "ent_2", "unfunding", 800, reason="too much")
    assert (e.value.status, e.value.slug, e.value.title) == (409, "insufficient-funds", "Insufficient funds")
    assert e.value.detail == "800 EUR requested, 700 EUR available"
    assert e.value.extra == {"available": 700, "requested": 800, "currency": "EUR"}
    assert list(journal.records) == ["ent_1"]


async def test_an_order_the_balance_cannot_cover_is_rejected_once_and_stays_rejected():
    lg, journal = ledger()
    await lg.pay_order("c1", "evt-1", order("c1", 300))
    (rejection,) = journal.records.values()
    assert rejection["type"] == "rejection" and rejection["requested"] == 300 and rejection["available"] == 0
    assert [e["type"] for e in rejection["events"]] == ["ledger.debit.rejected"]
    await lg.record_entry("c1", "EUR", "ent_f", "funding", 1000)
    await lg.pay_order("c1", "evt-1", order("c1", 300))  # redelivered once funds arrived
    assert (await journal.latest("c1:EUR"))["balance_after"] == 1000 and len(journal.records) == 2


async def test_an_order_captures_its_hold_and_a_capture_of_a_voided_hold_names_its_status():
    lg, journal = ledger()
    await lg.record_entry("c1", "EUR", "ent_f", "funding", 1000)
    hold = await lg.place_hold("c1", "EUR", "hold_1", 400, None, order_id="o1")
    assert (hold["status"], hold["amount"]) == ("active", 400)
    await lg.pay_order("c1", "evt-1", order("c1", 350, hold_id="hold_1"))
    captured = await lg.hold("hold_1")
    assert (captured["status"], captured["captured_amount"]) == ("captured", 350)
    assert (await journal.latest("c1:EUR"))["balance_after"] == 650

    await lg.place_hold("c1", "EUR", "hold_2", 100, None)
    assert (await lg.void_hold("c1", "hold_2"))["status"] == "voided"
    assert (await lg.void_hold("c1", "hold_2"))["status"] == "voided"  # again: the same result
    with pytest.raises(HoldNotActive) as e:
        await lg.capture_hold("c1", "hold_2", None, None)
    assert e.value.slug == "hold-not-active" and e.value.detail == "hold hold_2 is voided"
    assert e.value.extra == {"hold_status": "voided"}
    with pytest.raises(NotFound):
        await lg.hold_of("someone-else", "hold_1")


class FakeRewardStore:
    def __init__(self):
        self.states: dict[str, dict] = {}
        self.codes: dict[str, str] = {}
        self.causes: set[str] = set()
        self.events: list[dict] = []

    async def get(self, customer_id):
        from crm_ledger.domain.rewards import empty

        return self.states.get(customer_id) or empty(customer_id)

    async def commit(self, state, events, cause=None):
        if cause is not None and f"{cause}:{state['id']}" in self.causes:
            raise AlreadyApplied(cause)
        if self.states.get(state["id"], {"version": 0})["version"] != state["version"] - 1:
            raise VersionConflict(state["id"])
        if cause is not None:
            self.causes.add(f"{cause}:{state['id']}")
        self.states[state["id"]] = state
        self.events += events

    async def claim_codes(self, customer_id, coupons):
        for c in coupons:
            self.codes.setdefault(c["code"], customer_id)

    async def owner_of(self, code):
        return self.codes.get(code)


async def test_points_issue_one_coupon_per_cause_and_it_is_redeemed_once():
    store = FakeRewardStore()
    rewards = Rewards(store, PROGRAM, "/crm/ledger")  # type: ignore[arg-type]
    await rewards.earn("c1", 150, "evt-1", "o1")
    await rewards.earn("c1", 150, "evt-1", "o1")  # the same order event again
    state = await rewards.of("c1")
    assert (state["points"], state["earned_total"], len(state["coupons"])) == (50, 150, 1)
    assert [e["type"] for e in store.events] == ["reward.coupon.issued"]
    code = state["coupons"][0]["code"]

    used = await rewards.redeem(code, "order:o9")
    assert used["redemption"] == "order:o9" and (await rewards.redeem(code, "order:o9")) == used
    with pytest.raises(Conflict) as e:
        await rewards.redeem(code, "order:other")
    assert (e.value.slug, e.value.title) == ("coupon-used", "Coupon cannot be redeemed")
    with pytest.raises(NotFound) as nf:
        await rewards.redeem("RW-NOPE", None)
    assert (nf.value.status, nf.value.title, nf.value.detail) == (
        404,
        "Coupon not found",
        "no coupon with id 'RW-NOPE'",
    )


class FakeDirectory:
    def __init__(self):
        self.emails: dict[str, str] = {}
        self.parked: dict[str, dict] = {}

    async def customer_of(self, email):
        return self.emails.get(email_key(email))

    async def learn(self, email, customer_id, version):
        self.emails[email_key(email)] = customer_id

    async def park(self, doc):
        self.parked.setdefault(doc["_id"], doc)

    async def parked_for(self, email):
        return [p for p in self.parked.values() if p["email_key"] == email_key(email)]

    async def unpark(self, parked_id):
        self.parked.pop(parked_id, None)

    async def forget(self, customer_id):
        self.emails = {k: v for k, v in self.emails.items() if v != customer_id}


class FakeResponses:
    def __init__(self):
        self.forgotten: list[str] = []

    async def forget(self, subject):
        self.forgotten.append(subject)


def customers(grace: float = 0.0):
    lg, journal = ledger()
    store, directory, responses = FakeRewardStore(), FakeDirectory(), FakeResponses()
    rewards = Rewards(store, PROGRAM, "/crm/ledger")  # type: ignore[arg-type]
    c = Customers(lg, rewards, directory, journal, responses, grace)  # type: ignore[arg-type]
    return c, journal, store, directory, responses


async def test_store_credit_of_an_unknown_e_mail_is_invalid_with_the_dead_letter_reason():
    c, journal, *_ = customers(grace=0.3)
    started = asyncio.get_running_loop().time()
    with pytest.raises(Invalid) as e:
        await c.record_order("evt-1", order(None, 100, email="Guest@Example.com"))
    assert asyncio.get_running_loop().time() - started >= 0.3  # waited for a customer.created
    assert str(e.value) == (  # what the consumer puts in x-crm-reason
        "unknown customer where one is required: order o1 uses store credit but "
        "names no customer_id and its e-mail belongs to no customer the ledger knows"
    )
    assert journal.records == {}


async def test_points_of_an_unknown_e_mail_are_parked_until_the_customer_is_known_then_erased():
    c, _, store, directory, responses = customers()
    await c.record_order("evt-1", order(None, 0, total=12_000, email="Guest@Example.com"))
    assert list(directory.parked) == ["evt-1"] and store.states == {}
    now = datetime.now(UTC)
    customer = CustomerState(
        id="c9", version=1, email="guest@example.com", has_account=False, created_at=now, updated_at=now
    )
    await c.learn(customer)
    assert directory.parked == {} and (await store.get("c9"))["earned_total"] == 120
    await c.learn(customer)  # known already: nothing again
    assert (await store.get("c9"))["earned_total"] == 120
    await c.erase("c9")
    assert directory.emails == {} and responses.forgotten == ["c9"]


def test_hold_default_lifetime_is_the_setting():
    lg, _ = ledger()
    assert lg.hold_default == timedelta(seconds=900)
