"""Use cases of the segments service over an in-memory store: live membership as profiles
change, segment edits, and what group events do to profiles."""

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from crm_contracts.outbound import CustomerState, GroupMembersChanged, GroupState
from crm_segments.domain.documents import GONE
from crm_segments.domain.money import BaseMoney
from crm_segments.domain.profiles import empty as profiles_empty
from crm_segments.domain.segments import new_segment
from crm_segments.service import profiles, segments
from crm_segments.service.membership import Membership
from crm_segments.store import MembershipTaken
from crm_servicekit.errors import Conflict, Invalid, NotFound
from crm_servicekit.versioned import VersionConflict

T = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
NEW_FIELDS = {"email_key", "email_domain", "status", "gender", "birthday", "birthday_md", "city_code"}
NEW_FIELDS |= {"abandoned_checkout_date"}


class FakeStore:
    """The part of SegmentStore the use cases call, in dicts. `matching_ids` yields every
    active profile: the batch re-checks each candidate with the predicate anyway."""

    def __init__(self) -> None:
        self.profiles: dict = {}
        self.segs: dict = {}
        self.changes: dict = {}
        self.states: dict = {}
        self.groups: dict = {}
        self.runs: dict = {}
        self.pending: dict = {}
        self.scrubbed: list[str] = []
        self.segment_writes: list = []
        self.conflict_next = False
        self.orders: dict = {}
        self.personal: dict = {}
        self.republished: list[str] = []
        self.versions: dict = {}  # (customer id, version) -> the profile recorded
        self.profile_commits: list = []
        self.before_commit: list = []
        self.unprojected = False  # commits record but do not project (a writer that stopped)

    async def profile(self, customer_id):
        return self.profiles.get(customer_id)

    async def profile_to_change(self, customer_id, probe=True):
        projected = self.profiles.get(customer_id)
        if not probe:
            return projected, False
        newest = await self.newer_profile(projected) if projected else self.versions.get((customer_id, 1))
        return (newest, True) if newest is not None else (projected, False)

    async def newer_profile(self, p):
        version, newest = p.get("version", 0), None
        while (p["_id"], version + 1) in self.versions:
            version += 1
            newest = self.versions[(p["_id"], version)]
        return newest

    async def commit_profile(self, p):
        """Like VersionedStore.commit: a unique (customer, version). `before_commit` lets a
        test play another process that records the same version first."""
        if self.before_commit:
            self.before_commit.pop(0)(self)
        key = (p["_id"], p["version"])
        if key in self.versions:
            raise VersionConflict(p["_id"])
        self.versions[key] = p
        self.profile_commits.append(key)
        if not self.unprojected:
            await self.project_profile(p)

    async def project_profile(self, p):
        held = self.profiles.get(p["_id"])
        if held is None or held.get("version", 0) < p["version"]:
            self.profiles[p["_id"]] = p

    async def customers_in_group(self, group_id):
        return sorted(cid for cid, p in self.profiles.items() if group_id in p["group_ids"])

    async def profiles_before_upgrade(self):
        return [cid for cid, p in self.profiles.items() if "email_key" not in p]

    async def all_runs(self):
        return list(self.runs.values())

    async def customer_with_email(self, key):
        return next(
            (cid for cid, p in self.profiles.items() if p["active"] and p.get("email_key") == key), None
        )

    async def keep_pending_checkout(self, checkout):
        self.pending.setdefault(checkout["_id"], checkout)

    async def pending_checkouts_of(self, key):
        return [c for c in self.pending.values() if c["email_key"] == key]

    async def forget_pending_checkouts(self, ids):
        for i in ids:
            self.pending.pop(i, None)

    async def figures(self, rule_filter, fields):
        for p in sorted(self.profiles.values(), key=lambda p: p["_id"]):
            if p["active"]:
                yield {k: p.get(k) for k in fields}

    async def memberships_of(self, customer_id):  # the recorded transitions, as store.py
        newest: dict = {}
        for c in self.changes.values():
            if c["customer_id"] == customer_id and c["n"] > newest.get(c["segment_id"], {"n": 0})["n"]:
                newest[c["segment_id"]] = c
        return newest

    async def all_segments(self):
        return [self.segs[k] for k in sorted(self.segs)]

    async def segment(self, segment_id):
        return self.segs.get(segment_id)

    async def record_segment(self, segment_id, version, segment, events):
        if self.conflict_next:
            raise VersionConflict(segment_id)
        self.segment_writes.append((segment_id, version, events))
        if segment is None:
            self.segs.pop(segment_id, None)
        else:
            self.segs[segment_id] = segment

    async def remember_name(self, segment_id, name):
        self.runs.setdefault(segment_id, {"_id": segment_id})["name"] = name

    async def mark_run(self, segment_id, version, name):
        self.runs[segment_id] = {"_id": segment_id, "version": version, "name": name}

    async def run_of(self, segment_id):
        return self.runs.get(segment_id)

    async def record_transition(self, segment_id, customer_id, n, member, event):
        _id = f"{segment_id}|{customer_id}|{n}"
        if _id in self.changes:
            raise MembershipTaken(_id)
        change = {
            "_id": _id,
            "segment_id": segment_id,
            "customer_id": customer_id,
            "n": n,
            "member": member,
            "recorded_at": T,
            "outbox": [event],
        }
        self.changes[_id] = change
        await self.project(change)
        return change

    async def latest_change(self, segment_id, customer_id):
        mine = [
            c
            for c in self.changes.values()
            if (c["segment_id"], c["customer_id"]) == (segment_id, customer_id)
        ]
        return max(mine, key=lambda c: c["n"], default=None)

    async def project(self, change):
        key = f"{change['segment_id']}|{change['customer_id']}"
        if key not in self.states or self.states[key]["n"] < change["n"]:
            self.states[key] = {
                "_id": key,
                "segment_id": change["segment_id"],
                "customer_id": change["customer_id"],
                "n": change["n"],
                "member": change["member"],
                "since": change["recorded_at"],
            }

    async def scrub_published(self, customer_id):
        self.scrubbed.append(customer_id)

    async def matching_ids(self, rule_filter):
        for cid in sorted(self.profiles):
            if self.profiles[cid]["active"]:
                yield cid

    async def member_ids(self, segment_id):
        for s in sorted(self.states.values(), key=lambda s: s["customer_id"]):
            if s["segment_id"] == segment_id and s["member"]:
                yield s["customer_id"]

    async def member_count(self, segment_id):
        return sum(1 for s in self.states.values() if s["segment_id"] == segment_id and s["member"])

    async def group(self, group_id):
        return self.groups.get(group_id)

    async def save_group(self, group):
        self.groups[group["_id"]] = group

    async def anonymise_orders(self, customer_id, key, token):
        mine = [
            o
            for o in self.orders.values()
            if o["customer_id"] == customer_id or (key and o["email_key"] == key)
        ]
        for o in mine:
            o.update(customer_id=token, email_key=None)
        return len(mine)

    async def record_personal_data(self, record):
        if record["_id"] in self.personal:
            self.republished.append(record["_id"])
        else:
            self.personal[record["_id"]] = record

    def events(self):
        """(type, event id, data) of every transition recorded, in order."""
        return [
            (c["outbox"][0]["type"], c["outbox"][0]["id"], c["outbox"][0]["data"])
            for c in self.changes.values()
        ]


def customer(version: int, orders: int, email: str = "a@x.io") -> CustomerState:
    return CustomerState.model_validate(
        {
            "id": "cus_1",
            "version": version,
            "email": email,
            "has_account": True,
            "email_subscribed": True,
            "created_at": T,
            "updated_at": T,
            "stats": {"number_of_orders": orders},
        }
    )


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def live(store: FakeStore) -> Membership:
    return Membership(store, BaseMoney("EUR", {"USD": Decimal("0.5")}), "/test")


def add_segment(store: FakeStore, rule: str, sid: str = "seg_1", name: str = "Loyal") -> None:
    store.segs[sid] = new_segment(sid, name, rule, T)


async def test_a_customer_joins_and_leaves_as_the_profile_changes(store, live):
    add_segment(store, "number_of_orders >= 2")
    await profiles.record_customer(live, customer(1, 3))
    await profiles.record_customer(live, customer(1, 0))  # same version: ignored
    await profiles.record_customer(live, customer(2, 1))
    data = {
        "segment_id": "seg_1",
        "segment_name": "Loyal",
        "customer_id": "cus_1",
        "email": "a@x.io",
        "email_subscribed": True,
    }
    assert store.events() == [
        ("segment.member.joined", "seg_1|cus_1|1", data),
        ("segment.member.left", "seg_1|cus_1|2", data),
    ]
    assert store.states["seg_1|cus_1"]["member"] is False


async def test_an_erased_member_leaves_with_no_personal_data_and_once(store, live):
    add_segment(store, "number_of_orders >= 2")
    await profiles.record_customer(live, customer(1, 3))
    await profiles.erase_customer(live, "cus_1")
    await profiles.erase_customer(live, "cus_1")  # redelivered: changes nothing
    kind, event_id, data = store.events()[-1]
    assert (kind, event_id) == ("segment.member.left", "seg_1|cus_1|2")
    assert data["email"] is None and data["email_subscribed"] is None
    assert set(store.scrubbed) == {"cus_1"}  # again on the redelivery, in case the first stopped
    await profiles.record_customer(live, customer(5, 9))  # late event of an erased customer
    assert len(store.events()) == 2
    # personal_data.erased, recorded once; the redelivery republishes that same record.
    [confirmation] = store.personal["erased|cus_1"]["outbox"]
    assert confirmation["type"] == "personal_data.erased"
    assert confirmation["data"]["erased"] == {
        "profiles": 1,
        "memberships": 1,
        "orders": 0,
        "pending_checkouts": 0,
    }
    assert store.republished == ["erased|cus_1"]


async def test_an_erased_customer_s_orders_are_kept_under_an_untraceable_id(store, live):
    await profiles.record_customer(live, customer(1, 1, email="a@x.io"))
    store.orders = {
        "o1": {"_id": "o1", "customer_id": "cus_1", "email_key": "a@x.io"},
        "o2": {"_id": "o2", "customer_id": None, "email_key": "a@x.io"},
        "o3": {"_id": "o3", "customer_id": "cus_2", "email_key": "b@x.io"},
    }
    await profiles.erase_customer(live, "cus_1")
    tokens = {store.orders[o]["customer_id"] for o in ("o1", "o2")}
    assert len(tokens) == 1 and tokens.pop().startswith("erased_")
    assert store.orders["o1"]["email_key"] is None and store.orders["o3"]["customer_id"] == "cus_2"
    [confirmation] = store.personal["erased|cus_1"]["outbox"]
    assert confirmation["data"]["erased"]["orders"] == 2


async def test_a_stale_view_of_the_pair_is_corrected_not_doubled(store, live):
    """Another writer recorded change 1 (a join) that our view missed: we take it and agree."""
    add_segment(store, "number_of_orders >= 2")
    store.changes["seg_1|cus_1|1"] = {
        "_id": "seg_1|cus_1|1",
        "segment_id": "seg_1",
        "customer_id": "cus_1",
        "n": 1,
        "member": True,
        "recorded_at": T,
        "outbox": [{"type": "segment.member.joined", "id": "seg_1|cus_1|1", "data": {}}],
    }
    await profiles.record_customer(live, customer(1, 3))
    assert list(store.changes) == ["seg_1|cus_1|1"]  # not joined twice


async def test_a_decision_starts_from_the_recorded_transitions_not_a_projection_gone_back(store, live):
    """The projection says member (change 1, written late over change 2); the recorded truth
    is change 2, a leave. The customer qualifies: it joins again as change 3 (deciding "no
    change" from the projection left it out for good)."""
    add_segment(store, "number_of_orders >= 2")
    for n, member in ((1, True), (2, False)):
        store.changes[f"seg_1|cus_1|{n}"] = {
            "_id": f"seg_1|cus_1|{n}",
            "segment_id": "seg_1",
            "customer_id": "cus_1",
            "n": n,
            "member": member,
            "recorded_at": T,
            "outbox": [],
        }
    store.states["seg_1|cus_1"] = {
        "_id": "seg_1|cus_1",
        "segment_id": "seg_1",
        "customer_id": "cus_1",
        "n": 1,
        "member": True,
        "since": T,
    }
    await profiles.record_customer(live, customer(1, 3))
    assert store.changes["seg_1|cus_1|3"]["member"] is True
    assert store.states["seg_1|cus_1"]["n"] == 3


async def test_an_invalid_rule_is_refused_with_its_position_before_looking_the_segment_up(live):
    with pytest.raises(Invalid) as e:
        await segments.edit_segment(live, "seg_missing", None, "amount_spent >=")
    assert e.value.slug == "invalid-rule" and e.value.title == "Invalid segment rule"
    assert e.value.detail.startswith("rule: unexpected end of rule")
    assert e.value.extra["position"] == {"line": 1, "column": 16, "offset": 15}
    assert e.value.extra["errors"][0]["field"] == "rule"
    with pytest.raises(NotFound):
        await segments.edit_segment(live, "seg_missing", "x", None)


async def test_an_edit_that_changes_nothing_writes_nothing(store, live):
    add_segment(store, "number_of_orders >= 2")
    same = await segments.edit_segment(live, "seg_1", "Loyal", "number_of_orders >= 2")
    assert same["version"] == 1 and store.segment_writes == []
    renamed = await segments.edit_segment(live, "seg_1", "Faithful", None)
    assert renamed["version"] == 2 and renamed["rule"] == "number_of_orders >= 2"
    [(_, version, [event])] = store.segment_writes
    assert version == 2 and event["type"] == "segment.updated" and event["data"]["name"] == "Faithful"
    store.conflict_next = True
    with pytest.raises(Conflict) as e:
        await segments.edit_segment(live, "seg_1", "Again", None)
    assert e.value.slug == "concurrent-edit"


async def test_a_new_segment_takes_in_the_matching_customers_and_a_deleted_one_lets_them_go(store, live):
    await profiles.record_customer(live, customer(1, 3))
    seg = await segments.create_segment(live, "Loyal", "number_of_orders >= 2")
    await asyncio.gather(*segments._tasks)
    assert [(k, i) for k, i, _ in store.events()] == [("segment.member.joined", f"{seg['id']}|cus_1|1")]
    assert store.runs[seg["id"]]["version"] == 1
    await segments.delete_segment(live, seg["id"])
    await asyncio.gather(*segments._tasks)
    kind, _, data = store.events()[-1]
    assert kind == "segment.member.left" and data["segment_name"] == "Loyal"
    assert store.runs[seg["id"]]["version"] == GONE


async def test_group_names_follow_versions_and_a_deleted_group_takes_no_members(store, live):
    await profiles.record_customer(live, customer(1, 0))
    added = GroupMembersChanged(group_id="g1", group_name="VIP", customer_ids=["cus_1"])
    await profiles.add_group_members(live, added)
    assert store.profiles["cus_1"]["customer_groups"] == ["VIP"]
    await profiles.record_group(live, GroupState(id="g1", version=2, name="Gold"))
    await profiles.record_group(live, GroupState(id="g1", version=1, name="Old name"))  # older: ignored
    assert store.profiles["cus_1"]["customer_groups"] == ["Gold"]
    await profiles.delete_group(live, "g1")
    assert store.profiles["cus_1"]["customer_groups"] == []
    await profiles.add_group_members(live, added)  # late event of the deleted group
    assert store.profiles["cus_1"]["group_ids"] == []


async def test_a_rename_stopped_part_way_through_the_members_is_finished_by_its_redelivery(
    store, live, monkeypatch
):
    """group.updated renames the group in each member's profile; the first handling saved the
    group and stopped after the first member: the redelivery renames the others."""
    for n in (1, 2):
        await profiles.record_customer(live, customer(1, 0).model_copy(update={"id": f"cus_{n}"}))
    added = GroupMembersChanged(group_id="g1", group_name="VIP", customer_ids=["cus_1", "cus_2"])
    await profiles.add_group_members(live, added)
    change_profile, calls = live.change_profile, []

    async def stops_after_one(customer_id, change):
        if calls:
            raise ConnectionError("killed")
        calls.append(customer_id)
        return await change_profile(customer_id, change)

    monkeypatch.setattr(live, "change_profile", stops_after_one)
    renamed = GroupState(id="g1", version=2, name="Gold")
    with pytest.raises(ConnectionError):
        await profiles.record_group(live, renamed)
    monkeypatch.undo()
    await profiles.record_group(live, renamed)  # redelivered
    assert [store.profiles[c]["customer_groups"] for c in ("cus_1", "cus_2")] == [["Gold"], ["Gold"]]


def checkout_of(email: str, at: datetime, customer_id: str | None = None, checkout_id: str = "chk_1"):
    from crm_contracts.inbound import CheckoutAbandoned

    return CheckoutAbandoned.model_validate(
        {
            "checkout_id": checkout_id,
            "abandoned_at": at,
            "customer": {"email": email, "customer_id": customer_id},
        }
    )


async def test_a_checkout_abandoned_before_the_customer_exists_reaches_them_when_they_appear(store, live):
    add_segment(store, "abandoned_checkout_date IS NOT NULL", name="Abandoned")
    early, late = datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC)
    await profiles.record_checkout(live, checkout_of("A@X.io", late, checkout_id="chk_2"))
    await profiles.record_checkout(live, checkout_of("a@x.io", early))
    assert store.profiles == {} and len(store.pending) == 2  # nobody has that e-mail yet
    await profiles.record_customer(live, customer(1, 0, email="a@x.io"))
    assert store.profiles["cus_1"]["abandoned_checkout_date"] == late  # the latest of the two
    assert store.pending == {}
    assert [e[0] for e in store.events()] == ["segment.member.joined"]
    # A known customer's checkout goes straight to the profile; an older one changes nothing.
    await profiles.record_checkout(live, checkout_of("a@x.io", early, checkout_id="chk_3"))
    assert store.profiles["cus_1"]["abandoned_checkout_date"] == late and store.pending == {}


async def test_erasing_a_customer_drops_the_checkouts_waiting_under_their_email(store, live):
    await profiles.record_customer(live, customer(1, 0, email="a@x.io"))
    store.pending["chk_9"] = {"_id": "chk_9", "email_key": "a@x.io", "abandoned_at": T}
    await profiles.erase_customer(live, "cus_1")
    assert store.pending == {} and store.profiles["cus_1"]["abandoned_checkout_date"] is None


async def test_checkouts_and_erasures_cut_short_by_a_stop_are_finished_by_the_redelivery(
    store, live, monkeypatch
):
    """The first handler stops right after recording the profile: the redelivered
    customer.created still takes the waiting checkout, and after a deletion's tombstone nothing
    the e-mail led to is left."""
    await profiles.record_checkout(live, checkout_of("a@x.io", T))
    taken = profiles._take_pending_checkouts

    async def stopped(*args):
        raise asyncio.CancelledError

    monkeypatch.setattr(profiles, "_take_pending_checkouts", stopped)
    with pytest.raises(asyncio.CancelledError):
        await profiles.record_customer(live, customer(1, 0, email="a@x.io"))
    monkeypatch.setattr(profiles, "_take_pending_checkouts", taken)
    await profiles.record_customer(live, customer(1, 0, email="a@x.io"))  # redelivered
    assert store.profiles["cus_1"]["abandoned_checkout_date"] == T and store.pending == {}

    store.pending["chk_9"] = {"_id": "chk_9", "email_key": "a@x.io", "abandoned_at": T}
    store.orders = {"o1": {"_id": "o1", "customer_id": None, "email_key": "a@x.io"}}
    change_profile = live.change_profile

    async def tombstone_then_stop(*args):
        await change_profile(*args)
        raise asyncio.CancelledError

    monkeypatch.setattr(live, "change_profile", tombstone_then_stop)
    with pytest.raises(asyncio.CancelledError):
        await profiles.erase_customer(live, "cus_1")
    monkeypatch.undo()
    await profiles.erase_customer(live, "cus_1")  # redelivered
    assert store.profiles["cus_1"]["deleted"] and store.pending == {}
    assert store.orders["o1"]["email_key"] is None


async def test_rfm_group_rules_score_against_every_customer(store, live):
    add_segment(store, "rfm_group = 'prospects'", name="Prospects")
    await profiles.record_customer(live, customer(1, 0))
    assert [e[0] for e in store.events()] == ["segment.member.joined"]
    assert live.rfm is not None  # scored on first need


async def test_profiles_of_an_older_version_gain_the_derived_fields_once(store, live):
    add_segment(store, "customer_email_domain = 'x.io'", name="x.io")
    old = {k: v for k, v in profiles_empty("cus_old").items() if k not in NEW_FIELDS}
    store.profiles["cus_old"] = {
        **old,
        "active": True,
        "customer_version": 3,
        "email": "Ann@X.io",
        "city": "São Paulo",
    }
    await live.periodic()
    p = store.profiles["cus_old"]
    assert (p["email_key"], p["email_domain"], p["city_code"], p["status"]) == (
        "ann@x.io",
        "x.io",
        "saopaulo",
        None,
    )
    assert [e[0] for e in store.events()] == ["segment.member.joined"]
    await live.periodic()  # nothing more to do
    assert len(store.events()) == 1


# several processes (docs/scaling.md) ------------------------------------------------------------


async def test_a_profile_change_recorded_first_by_another_process_is_kept_not_overwritten(store, live):
    """Another process records version 2 (customer.updated, 3 orders) between our read and our
    commit of a group join: our commit of version 2 conflicts, and the retry joins the group on
    the fresh profile, so the profile holds both changes."""
    add_segment(store, "number_of_orders >= 2 AND customer_groups CONTAINS 'VIP'")
    await profiles.record_customer(live, customer(1, 0))
    other = Membership(store, live.money, "/test")  # the other process, with its own locks

    def other_process_records_first(fake: FakeStore) -> None:
        fresh = {**fake.versions[("cus_1", 1)], "version": 2, "customer_version": 2, "number_of_orders": 3}
        fake.versions[("cus_1", 2)] = fresh
        fake.profiles["cus_1"] = fresh

    store.before_commit = [other_process_records_first]
    added = GroupMembersChanged(group_id="g1", group_name="VIP", customer_ids=["cus_1"])
    await profiles.add_group_members(other, added)
    final = store.profiles["cus_1"]
    assert (final["version"], final["number_of_orders"], final["customer_groups"]) == (3, 3, ["VIP"])
    assert store.profile_commits == [("cus_1", 1), ("cus_1", 3)]  # the conflicting 2 was not recorded
    assert [e[0] for e in store.events()] == ["segment.member.joined"]


async def test_a_change_recorded_but_not_projected_is_finished_by_the_redelivered_event(store, live):
    """A process recorded version 1 and stopped before projecting it and re-checking segments:
    the event comes again, changes nothing more, and finishes both."""
    add_segment(store, "number_of_orders >= 2")
    store.unprojected = True
    stopped = Membership(store, live.money, "/test")
    stopped._reevaluate = lambda profile: asyncio.sleep(0)  # type: ignore[method-assign]
    await profiles.record_customer(stopped, customer(1, 3))
    assert "cus_1" not in store.profiles and store.events() == []
    store.unprojected = False
    await profiles.record_customer(live, customer(1, 3))  # redelivered
    assert store.profiles["cus_1"]["number_of_orders"] == 3
    assert store.profile_commits == [("cus_1", 1)]
    assert [e[0] for e in store.events()] == ["segment.member.joined"]


async def test_a_change_recorded_and_projected_whose_recheck_was_lost_is_finished_by_the_redelivery(
    store, live
):
    """A process recorded and projected version 1 and was killed before re-checking segments:
    the redelivered event changes nothing in the profile, and still makes the customer join."""
    add_segment(store, "number_of_orders >= 2")
    killed = Membership(store, live.money, "/test")
    killed._reevaluate = lambda profile: asyncio.sleep(0)  # type: ignore[method-assign]
    await profiles.record_customer(killed, customer(1, 3))
    assert store.profiles["cus_1"]["number_of_orders"] == 3 and store.events() == []
    await profiles.record_customer(live, customer(1, 3))  # redelivered
    assert store.profile_commits == [("cus_1", 1)]
    assert [e[0] for e in store.events()] == ["segment.member.joined"]
    await profiles.record_customer(live, customer(1, 3))  # and again: nothing more
    assert len(store.events()) == 1


async def test_a_batch_that_decided_from_an_older_profile_settles_again_from_the_newest(store, live):
    """The batch read version 1 (3 orders: joins) while version 2 (no orders) was recorded and
    not yet projected: after its join it sees version 2 and the customer leaves again."""
    await profiles.record_customer(live, customer(1, 3))
    store.versions[("cus_1", 2)] = {**store.profiles["cus_1"], "version": 2, "number_of_orders": 0}
    add_segment(store, "number_of_orders >= 2")
    assert await live.recompute("seg_1") == 2
    assert [e[0] for e in store.events()] == ["segment.member.joined", "segment.member.left"]
    assert store.states["seg_1|cus_1"]["member"] is False
