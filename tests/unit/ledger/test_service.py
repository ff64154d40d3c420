"""The ledger's use cases against in-memory fakes of its stores: what the API and the event
handlers get back (domain errors with their HTTP members, events, parked points)."""

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest

from crm_contracts.inbound import OrderCancelled, OrderPlaced, OrderRefunded
from crm_contracts.outbound import CustomerState
from crm_contracts.types import email_key
from crm_ledger.domain import AccountState, CouponTerms, HoldNotActive, InsufficientFunds, Program, Threshold
from crm_ledger.service import Customers, Ledger, Programmes, Rewards
from crm_ledger.store import account_key
from crm_servicekit.errors import Conflict, NotFound, NotKnownYet
from crm_servicekit.versioned import AlreadyApplied, VersionConflict

PROGRAM = Program(
    points_per_unit=1,
    thresholds=(Threshold(100, CouponTerms("amount", 500, "EUR", 30)),),
)


class FakeProgrammeStore:
    def __init__(self):
        self.docs: dict[str, dict] = {}

    async def all(self):
        return list(self.docs.values())

    async def record(self, doc):
        if doc["_id"] in self.docs:
            return False
        self.docs[doc["_id"]] = doc
        return True


def programmes(default: Program = PROGRAM) -> Programmes:
    return Programmes(FakeProgrammeStore(), default, cache_seconds=0)  # type: ignore[arg-type]


class FakeJournal:
    """Appends like store.Journal (once per record id, state from the newest record)."""

    def __init__(self):
        self.records: dict[str, dict] = {}

    async def latest(self, account):
        mine = [r for r in self.records.values() if r["account"] == account]
        return max(mine, key=lambda r: r["sequence"]) if mine else None

    async def get(self, record_id):
        return self.records.get(record_id)

    async def append(self, customer_id, currency, record_id, decide, events, look_up_first=True):
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
    customer_id: str | None,
    credit: int,
    total: int = 0,
    hold_id: str | None = None,
    email="a@example.com",
    order_id: str = "o1",
    placed_at: datetime | None = None,
    referral_code: str | None = None,
):
    return OrderPlaced.model_validate(
        {
            "order_id": order_id,
            "referral_code": referral_code,
            "placed_at": (placed_at or datetime.now(UTC)).isoformat(),
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
        self.applied: dict[str, list[dict]] = {}  # the events each cause committed
        self.events: list[dict] = []
        self.order_points: dict[str, dict] = {}
        self.parked: dict[str, dict] = {}
        self.birthdays: dict[str, dict] = {}
        self.referral_codes: dict[str, str] = {}
        self.referrals: dict[str, dict] = {}
        self.reversals: dict[str, dict] = {}
        self.known_codes: dict[str, str] = {}  # the directory's (customers() links them)

    async def record_reversal(self, doc):
        self.reversals.setdefault(doc["_id"], doc)

    async def reversal_applied(self, customer_id, cause):
        for e in self.applied.get(f"{cause}:{customer_id}", []):
            if e["type"] == "reward.points.reversed":
                return e["data"]["points"], datetime(2026, 1, 1, tzinfo=UTC)
        return None, datetime(2026, 1, 1, tzinfo=UTC)

    async def share_code(self, customer_id, code):
        self.referral_codes.setdefault(code, customer_id)

    async def sharer_of(self, code):
        return self.referral_codes.get(code) or self.known_codes.get(code)

    async def record_referral(self, doc):
        return self.referrals.setdefault(doc["_id"], doc)

    async def conversions_of(self, referrer_id):
        return sum(r["referrer_id"] == referrer_id for r in self.referrals.values())

    async def earned_before(self, customer_id, order_id):
        return any(
            p["customer_id"] == customer_id and p["order_id"] != order_id for p in self.order_points.values()
        )

    async def birthday_done(self, customer_id, year):
        return f"{customer_id}:{year}" in self.birthdays

    async def record_birthday(self, doc):
        self.birthdays.setdefault(doc["_id"], doc)

    async def get(self, customer_id):
        from crm_ledger.domain.rewards import empty

        return self.states.get(customer_id) or empty(customer_id)

    async def projected(self, customer_id):
        return await self.get(customer_id)

    async def commit(self, state, events, cause=None):
        if cause is not None and f"{cause}:{state['id']}" in self.causes:
            raise AlreadyApplied(cause)
        if self.states.get(state["id"], {"version": 0})["version"] != state["version"] - 1:
            raise VersionConflict(state["id"])
        if cause is not None:
            self.causes.add(f"{cause}:{state['id']}")
            self.applied[f"{cause}:{state['id']}"] = events
        self.states[state["id"]] = state
        self.events += events

    async def claim_codes(self, customer_id, coupons):
        for c in coupons:
            self.codes.setdefault(c["code"], customer_id)

    async def owner_of(self, code):
        return self.codes.get(code)

    async def record_order_points(self, doc):
        self.order_points.setdefault(doc["_id"], doc)

    async def order_points_of(self, customer_id, order_id):
        return self.order_points.get(f"{customer_id}:{order_id}")

    async def park_reversal(self, doc):
        self.parked.setdefault(doc["_id"], doc)

    async def parked_reversals(self, customer_id, order_id):
        return [d for d in self.parked.values() if d["order_key"] == f"{customer_id}:{order_id}"]

    async def reversals_parked_for_email(self, key):
        return [d for d in self.parked.values() if d.get("email_key") == key]


async def test_points_issue_one_coupon_per_cause_and_it_is_redeemed_once():
    store = FakeRewardStore()
    rewards = Rewards(store, programmes(), "/crm/ledger")  # type: ignore[arg-type]
    await rewards.earn("c1", 150, "evt-1", "o1", PROGRAM)
    await rewards.earn("c1", 150, "evt-1", "o1", PROGRAM)  # the same order event again
    state = await rewards.of("c1")
    assert (state["points"], state["earned_total"], len(state["coupons"])) == (50, 150, 1)
    assert [e["type"] for e in store.events] == ["reward.coupon.issued"]
    code = state["coupons"][0]["code"]

    used = await rewards.redeem(code, "c1", "order:o9")
    assert used["redemption"] == "order:o9" and (await rewards.redeem(code, "c1", "order:o9")) == used
    with pytest.raises(Conflict) as e:
        await rewards.redeem(code, "c1", "order:other")
    assert (e.value.slug, e.value.title) == ("coupon-used", "Coupon cannot be redeemed")
    with pytest.raises(NotFound) as nf:
        await rewards.redeem("RW-NOPE", "c1", None)
    assert (nf.value.status, nf.value.title, nf.value.detail) == (
        404,
        "Coupon not found",
        "no coupon with id 'RW-NOPE'",
    )


async def test_a_cancellation_that_arrives_before_its_order_takes_the_points_back_when_it_comes():
    store = FakeRewardStore()
    rewards = Rewards(store, programmes(), "/crm/ledger")  # type: ignore[arg-type]
    await rewards.earn("c1", 40, "evt-0", "o0", PROGRAM)
    await rewards.take_back("c1", "o1", "cancel:o1", None)  # o1 not seen yet: parked
    assert (await rewards.of("c1"))["points"] == 40
    await rewards.earn("c1", 30, "evt-1", "o1", PROGRAM, total=3000, currency="EUR")
    state = await rewards.of("c1")
    assert (state["points"], state["earned_total"]) == (40, 70)  # o1's 30 went back at once
    assert [e["type"] for e in store.events] == ["reward.points.reversed"]
    await rewards.take_back("c1", "o1", "cancel:o1", None)  # the cancellation redelivered
    assert (await rewards.of("c1"))["points"] == 40 and len(store.events) == 1


async def test_a_cancellation_handled_while_its_orders_earning_is_being_retried_waits_for_it():
    """The order's earning fails (the database went away) and is retried later; its
    cancellation comes in between. It is parked, not applied to a balance without the order's
    points (that took what the balance had, and the retried earning then left the rest)."""
    store = FakeRewardStore()
    rewards = Rewards(store, programmes(), "/crm/ledger")  # type: ignore[arg-type]
    await rewards.earn("c1", 10, "evt-0", "o0", PROGRAM)
    real_commit = store.commit

    async def database_away(state, events, cause=None):
        raise RuntimeError("database away")

    store.commit = database_away  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await rewards.earn("c1", 30, "evt-1", "o1", PROGRAM, total=3000, currency="EUR")
    store.commit = real_commit  # type: ignore[method-assign]
    await rewards.take_back("c1", "o1", "cancel:o1", None)
    assert (await rewards.of("c1"))["points"] == 10 and store.events == []
    await rewards.earn("c1", 30, "evt-1", "o1", PROGRAM, total=3000, currency="EUR")  # the retry
    state = await rewards.of("c1")
    assert (state["points"], state["earned_total"]) == (10, 40)  # all 30 back, none lost
    assert [e["type"] for e in store.events] == ["reward.points.reversed"]


async def test_points_stay_when_taking_back_is_switched_off():
    store = FakeRewardStore()
    rewards = Rewards(store, programmes(), "/crm/ledger", take_back_points=False)  # type: ignore[arg-type]
    await rewards.earn("c1", 30, "evt-1", "o1", PROGRAM, total=3000, currency="EUR")
    await rewards.take_back("c1", "o1", "cancel:o1", None)
    assert (await rewards.of("c1"))["points"] == 30 and store.events == []


class FakeDirectory:
    def __init__(self):
        self.emails: dict[str, str] = {}
        self.parked: dict[str, dict] = {}
        self.known: dict[str, dict] = {}
        self.erased: set[str] = set()
        self.codes: dict[str, str] = {}  # referral codes kept with the known customers

    async def known_customer(self, customer_id):
        return self.known.get(customer_id)

    async def remember(
        self,
        customer_id,
        email,
        version,
        birthday,
        consent,
        known=False,
        referral_code=None,
        referred_by=None,
    ):
        if referral_code is not None and customer_id not in self.known:
            self.codes[referral_code] = customer_id  # kept with the first record (store.py)
        if self.known.get(customer_id, {"version": 0})["version"] < version:
            self.known[customer_id] = {
                "_id": customer_id,
                "version": version,
                "email_key": email_key(email),
                "birthday": birthday,
                "consent": consent,
                **({"referred_by": referred_by} if referred_by else {}),
            }

    async def born_on(self, birthday):
        return [k for k in self.known.values() if k.get("birthday") == birthday]

    async def exists(self, customer_id):
        return customer_id in self.known and customer_id not in self.erased

    async def is_erased(self, customer_id):
        return customer_id in self.erased

    async def merged_into(self, customer_id):
        return None  # customer.merged is tested against the real database (test_merge.py)

    async def mark_erased(self, customer_id):
        self.erased.add(customer_id)
        if customer_id in self.known:
            self.known[customer_id] = {**self.known[customer_id], "birthday": None, "consent": False}

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
    store.known_codes = directory.codes
    rewards = Rewards(store, programmes(), "/crm/ledger")  # type: ignore[arg-type]
    c = Customers(lg, rewards, directory, journal, responses, grace)  # type: ignore[arg-type]
    return c, journal, store, directory, responses


async def test_store_credit_of_an_unknown_e_mail_is_retried_later_with_the_dead_letter_reason():
    c, journal, *_ = customers(grace=0.3)
    started = asyncio.get_running_loop().time()
    with pytest.raises(NotKnownYet) as e:
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


async def test_points_granted_but_left_parked_by_a_stopped_handler_are_unparked_by_the_redelivery(
    monkeypatch,
):
    """The order's first handling parked its points, found the customer meanwhile, granted
    them and stopped before unparking: the redelivery unparks them, so a later owner of the
    e-mail is not granted them again."""
    c, _, store, directory, _ = customers()
    placed = order(None, 0, total=12_000, email="guest@example.com")
    await c.record_order("evt-1", placed)  # parked: the e-mail is unknown
    now = datetime.now(UTC)
    await c.learn(
        CustomerState(
            id="c9", version=1, email="guest@example.com", has_account=False, created_at=now, updated_at=now
        )
    )
    assert directory.parked == {} and (await store.get("c9"))["earned_total"] == 120
    directory.parked["evt-1"] = {
        "_id": "evt-1",
        "email_key": "guest@example.com",
        "order_id": placed.order_id,
        "points": 120,
    }
    await c.record_order("evt-1", placed)  # redelivered
    assert directory.parked == {} and (await store.get("c9"))["earned_total"] == 120


def test_hold_default_lifetime_is_the_setting():
    lg, _ = ledger()
    assert lg.hold_default == timedelta(seconds=900)


def state_of(customer_id: str, email: str, version: int = 1, **more) -> CustomerState:
    now = datetime.now(UTC)
    return CustomerState(
        id=customer_id, version=version, email=email, has_account=True, created_at=now, updated_at=now, **more
    )


def refund(order_id: str, amount: int, refund_id: str | None = None, to_store_credit: bool = True):
    return OrderRefunded.model_validate(
        {
            "order_id": order_id,
            "refunded_at": datetime.now(UTC).isoformat(),
            "customer": {"email": "a@example.com", "customer_id": "c1"},
            "currency": "EUR",
            "amount": amount,
            "to_store_credit": to_store_credit,
            "refund_id": refund_id,
        }
    )


async def test_a_refund_re_sent_under_a_new_event_id_counts_once_by_its_refund_id():
    c, journal, store, *_ = customers()
    await c.learn(state_of("c1", "a@example.com"))
    await c.record_order("evt-o", order("c1", 0, total=5_000))  # 50 points
    await c.record_refund("evt-1", refund("o1", 1000, "rf-1"))
    await c.record_refund("evt-2", refund("o1", 1000, "rf-1"))  # the same refund, a new event id
    await c.record_refund("evt-3", refund("o1", 1000))  # no refund_id: the event id is the key
    await c.record_refund("evt-3", refund("o1", 1000))
    refunds = [r for r in journal.records.values() if r["kind"] == "refund"]
    assert [r["amount"] for r in refunds] == [1000, 1000]
    assert (await journal.latest("c1:EUR"))["balance_after"] == 2000
    state = await store.get("c1")
    assert (state["points"], state["reversed_total"]) == (30, 20)  # 10 + 10, once per refund
    reversed_events = [e for e in store.events if e["type"] == "reward.points.reversed"]
    assert [e["data"]["points"] for e in reversed_events] == [10, 10]
    assert reversed_events[0]["data"]["refund_id"] == "rf-1"


async def test_a_cancellation_takes_back_what_is_left_of_the_orders_points_once():
    c, _, store, *_ = customers()
    await c.learn(state_of("c1", "a@example.com"))
    await c.record_order("evt-o", order("c1", 0, total=8_000))  # 80 points
    await c.record_refund("evt-1", refund("o1", 2000, "rf-1", to_store_credit=False))  # 20 back
    cancelled = OrderCancelled.model_validate(
        {
            "order_id": "o1",
            "cancelled_at": datetime.now(UTC).isoformat(),
            "customer": {"email": "a@example.com"},
        }
    )
    await c.record_cancellation(cancelled)
    await c.record_cancellation(cancelled)
    state = await store.get("c1")
    assert (state["points"], state["earned_total"], state["reversed_total"]) == (0, 80, 80)
    assert [m["points"] for m in state["movements"]] == [80, -20, -60]
    assert state["movements"][-1]["reason"] == "order o1 cancelled: 60 of its 80 points taken back"


async def test_a_refund_and_a_cancellation_before_the_customer_is_known_wait_for_it():
    """A guest's order, its refund and a cancellation of another order, all before the ledger
    knows the e-mail's customer: the points wait under the e-mail and so do the reversals; when
    the customer becomes known, both orders' points are granted and taken back as if the events
    had come in order (the fault suite's broker restart found them lost)."""
    c, _, store, *_ = customers()
    guest = {"email": "g@example.com", "customer_id": None}
    await c.record_order("evt-1", order(None, 0, total=8_000, email="g@example.com", order_id="o1"))
    await c.record_refund(
        "evt-2",
        OrderRefunded.model_validate(
            {
                "order_id": "o1",
                "refunded_at": datetime.now(UTC).isoformat(),
                "customer": guest,
                "currency": "EUR",
                "amount": 2000,
                "to_store_credit": False,
                "refund_id": "rf-1",
            }
        ),
    )
    cancelled = {"order_id": "o2", "cancelled_at": datetime.now(UTC).isoformat(), "customer": guest}
    await c.record_cancellation(OrderCancelled.model_validate(cancelled))  # before o2 itself
    await c.record_order("evt-3", order(None, 0, total=3_000, email="g@example.com", order_id="o2"))
    assert (await store.get("c9"))["earned_total"] == 0  # nothing known of c9 yet
    await c.learn(state_of("c9", "g@example.com"))
    state = await store.get("c9")
    # o1: 80 earned, 20 back (a quarter refunded); o2: 30 earned, all back (cancelled)
    assert (state["earned_total"], state["reversed_total"], state["points"]) == (110, 50, 60)


async def test_money_moves_only_for_a_known_customer_and_never_for_an_erased_one():
    c, *_ = customers(grace=0.3)
    started = asyncio.get_running_loop().time()
    with pytest.raises(NotFound) as e:
        await c.require("c-new")  # never heard of: waited for a customer.created in flight
    assert asyncio.get_running_loop().time() - started >= 0.3
    assert (e.value.status, e.value.detail) == (404, "no customer with id 'c-new'")

    async def created_meanwhile():
        await asyncio.sleep(0.1)
        await c.learn(state_of("c-new", "new@example.com"))

    await asyncio.gather(c.require("c-new"), created_meanwhile())  # arrives within the grace
    await c.erase("c-new")
    started = asyncio.get_running_loop().time()
    with pytest.raises(NotFound):
        await c.require("c-new")
    assert asyncio.get_running_loop().time() - started < 0.2  # erased: refused at once
    await c.learn(state_of("c-new", "other@example.com", version=5))  # a late event
    with pytest.raises(NotFound):
        await c.require("c-new")


async def test_a_programme_change_applies_to_orders_placed_after_it_only():
    c, _, store, *_ = customers()
    before = datetime.now(UTC) - timedelta(seconds=5)
    changed = await c.rewards.programmes.change("default", {"points_per_unit": 3, "minimum_order": 1000})
    assert (changed.id, changed.version) == ("default", 1)
    await c.record_order("evt-1", order("c1", 0, total=5000, order_id="o-old", placed_at=before))
    assert (await store.get("c1"))["earned_total"] == 50  # placed under version 0: 1 per EUR
    await c.record_order("evt-2", order("c1", 0, total=2000, order_id="o-new"))
    await c.record_order("evt-3", order("c1", 0, total=900, order_id="o-small"))  # below the minimum
    assert (await store.get("c1"))["earned_total"] == 50 + 60
    assert [p.version for p in await c.rewards.programmes.list()] == [1]
    with pytest.raises(NotFound):
        await c.rewards.programmes.change("prg_nope", {"name": "x"})


async def test_a_birthday_coupon_once_a_year_to_consenting_customers_born_today():
    c, _, store, directory, _ = customers()
    today = datetime(2027, 3, 14, 9, 0, tzinfo=UTC)
    await c.learn(state_of("c1", "a@example.com", birthday=date(1990, 3, 14), email_subscribed=True))
    await c.learn(state_of("c2", "b@example.com", birthday=date(1991, 3, 14)))  # no consent
    await c.learn(state_of("c3", "c@example.com", birthday=date(1992, 3, 15), email_subscribed=True))
    await c.learn(state_of("c4", "d@example.com", birthday=date(1993, 3, 14), email_subscribed=True))
    await c.erase("c4")
    assert await c.birthday_pass(today) == 0  # the programme has no birthday coupon
    await c.rewards.programmes.change("default", {"birthday_coupon": CouponTerms("percentage", 15, None, 14)})
    assert await c.birthday_pass(today) == 1
    assert await c.birthday_pass(today + timedelta(hours=1)) == 0  # again the same day
    # two replicas at once: still one
    results = await asyncio.gather(c.birthday_pass(today), c.birthday_pass(today))
    assert sum(results) == 0
    (coupon,) = (await store.get("c1"))["coupons"]
    assert (coupon["kind"], coupon["value"], coupon["source"]) == ("percentage", 15, "birthday")
    assert coupon["expires_at"] == today + timedelta(days=14)
    assert [e["data"]["source"] for e in store.events] == ["birthday"]
    assert (await store.get("c2"))["coupons"] == [] and (await store.get("c4"))["coupons"] == []
    next_year = today.replace(year=2028)  # the next one; two replicas deciding at once issue it once
    assert sum(await asyncio.gather(c.birthday_pass(next_year), c.birthday_pass(next_year))) == 1
    assert len((await store.get("c1"))["coupons"]) == 2


def test_a_29_february_birthday_is_celebrated_on_the_28th_in_other_years():
    from crm_ledger.domain.rewards import birthday_keys

    assert birthday_keys(date(2027, 2, 28)) == ["02-28", "02-29"]
    assert birthday_keys(date(2028, 2, 28)) == ["02-28"]
    assert birthday_keys(date(2028, 2, 29)) == ["02-29"]


async def test_a_referred_customers_first_order_rewards_both_once_never_a_self_referral():
    c, _, store, *_ = customers(grace=0.2)
    await c.rewards.programmes.change(
        "default",
        {
            "referrer_coupon": CouponTerms("amount", 1000, "EUR", 30),
            "referee_coupon": CouponTerms("percentage", 10, None, 30),
        },
    )
    for cid in ("ana", "bea", "cid", "dan"):
        await c.learn(state_of(cid, f"{cid}@example.com"))
    code = await c.rewards.referral_code_of("ana")
    assert code == await c.rewards.referral_code_of("ana") and code.startswith("REF-")

    await c.record_order("e1", order("ana", 0, total=1000, order_id="o-self", referral_code=code))
    await c.record_order("e2", order("bea", 0, total=1000, order_id="o-b1", referral_code=code.lower()))
    await c.record_order("e2", order("bea", 0, total=1000, order_id="o-b1", referral_code=code))  # again
    await c.record_order("e3", order("bea", 0, total=1000, order_id="o-b2", referral_code=code))  # 2nd order
    await c.record_order("e4", order("cid", 0, total=1000, order_id="o-c0"))  # ordered before...
    await c.record_order(
        "e5", order("cid", 0, total=1000, order_id="o-c1", referral_code=code)
    )  # ...not first
    await c.record_order("e6", order("dan", 0, total=1000, order_id="o-d1", referral_code="REF-NOPE"))
    assert await c.rewards.conversions("ana") == 1
    ana = [(x["kind"], x["value"], x["source"]) for x in (await store.get("ana"))["coupons"]]
    bea = [(x["kind"], x["value"], x["source"]) for x in (await store.get("bea"))["coupons"]]
    assert ana == [("amount", 1000, "referral")] and bea == [("percentage", 10, "referral")]
    (converted,) = [e for e in store.events if e["type"] == "referral.converted"]
    assert converted["data"] | {"at": None} == {
        "referrer_id": "ana",
        "referee_id": "bea",
        "code": code,
        "order_id": "o-b1",
        "at": None,
    }

    await c.erase("ana")  # an erased referrer earns nothing more
    await c.record_order("e7", order("dan", 0, total=1000, order_id="o-d2", referral_code=code))
    assert await c.rewards.conversions("ana") == 1

    with pytest.raises(NotKnownYet):  # a referred guest whose customer.created never comes
        await c.record_order("e8", order(None, 0, total=100, email="new@example.com", referral_code=code))


# -- fewer commands per event, same effects ------------------------------------------------------


async def test_customer_events_handled_side_by_side_grant_parked_points_once_and_a_failed_grant_is_redone():
    """The customers service sends a customer's events in bursts, handled side by side: the
    points parked under its e-mail are granted by one handler while the others wait; when that
    one fails, a handler that waited grants them itself."""
    c, _, store, directory, _ = customers()
    await c.record_order("evt-1", order(None, 0, total=12_000, email="g@example.com", order_id="o1"))
    await c.record_order("evt-2", order(None, 0, total=3_000, email="g@example.com", order_id="o2"))
    assert set(directory.parked) == {"evt-1", "evt-2"}
    commits: list[str | None] = []
    real_commit = store.commit
    fail_first = [True]

    async def slow_commit(state, events, cause=None):
        commits.append(cause)
        await asyncio.sleep(0.02)  # the other handlers reach the same parked points meanwhile
        if fail_first.pop() if fail_first else False:
            raise RuntimeError("database away")  # transient: this handler's event is retried
        await real_commit(state, events, cause)

    store.commit = slow_commit  # type: ignore[method-assign]
    results = await asyncio.gather(
        *(c.learn(state_of("c9", "g@example.com", v)) for v in (1, 2, 3)), return_exceptions=True
    )
    assert [type(r).__name__ for r in results].count("RuntimeError") == 1
    state = await store.get("c9")
    assert state["earned_total"] == 150 and directory.parked == {}
    assert sorted(store.order_points) == ["c9:o1", "c9:o2"]
    # One failed attempt, then each grant once: no handler repeated a grant another had made.
    assert len(commits) == 3 and sorted(x for x in commits if x) == ["evt-1", "evt-1", "evt-2"]
    assert c._granting == {}


async def test_an_earning_decided_on_a_stale_state_is_refused_and_decided_again_on_the_newest():
    """The first attempt decides on the projection (or the caller's state) without the probe
    for newer versions; a stale one meets the version conflict and the next attempt reads."""
    c, _, store, _, _ = customers()
    await c.rewards.earn("c1", 50, "evt-1", "o1", PROGRAM, 5000, "EUR")
    stale = await store.get("c1")
    await c.rewards.earn("c1", 30, "evt-2", "o2", PROGRAM, 3000, "EUR")

    async def behind(customer_id):
        return stale  # a projection that lags (or went back)

    store.projected = behind  # type: ignore[method-assign]
    committed = await c.rewards.earn("c1", 40, "evt-3", "o3", PROGRAM, 4000, "EUR")
    assert committed == await store.get("c1")
    assert (committed["version"], committed["earned_total"], committed["points"]) == (3, 120, 20)
    assert len(committed["coupons"]) == 1  # crossed 100 once, on the newest state
    # A state handed in by the caller, stale too: the same.
    again = await c.rewards.earn("c1", 10, "evt-4", "o4", PROGRAM, 1000, "EUR", state=stale)
    assert again is not None and (again["version"], again["earned_total"]) == (4, 130)
    # A cause applied before: nothing again, whatever state it was decided on.
    assert await c.rewards.earn("c1", 10, "evt-4", "o4", PROGRAM, 1000, "EUR", state=again) is None
    assert (await store.get("c1"))["earned_total"] == 130


async def test_parked_reversals_are_not_looked_up_when_taking_back_is_switched_off():
    store = FakeRewardStore()

    async def never(customer_id, order_id):
        raise AssertionError("switched off: nothing is parked, nothing is applied")

    store.parked_reversals = never  # type: ignore[method-assign]
    rewards = Rewards(store, programmes(), "/crm/ledger", take_back_points=False)  # type: ignore[arg-type]
    await rewards.earn("c1", 50, "evt-1", "o1", PROGRAM, 5000, "EUR")
    await rewards.take_back("c1", "o1", "cancel:o1", None)
    assert (await store.get("c1"))["points"] == 50


async def test_a_customers_referral_code_works_from_when_the_ledger_first_hears_of_them():
    """Registered with the customer's first record (no insert of its own), not only over HTTP."""
    from crm_ledger.domain.rewards import referral_code

    c, _, store, directory, _ = customers()
    await c.rewards.programmes.change("default", {"referee_coupon": CouponTerms("percentage", 10, None, 30)})
    await c.learn(state_of("ana", "ana@example.com"))
    await c.learn(state_of("ana", "ana+new@example.com", 2))  # known: the code stays
    assert directory.codes == {referral_code("ana"): "ana"} and store.referral_codes == {}
    await c.learn(state_of("bea", "bea@example.com"))
    await c.record_order(
        "e1", order("bea", 0, total=1000, order_id="o-b1", referral_code=referral_code("ana"))
    )
    assert await c.rewards.conversions("ana") == 1
