"""Personal data rules (issue 15): when an export is complete, what became of an erasure."""

from datetime import UTC, datetime, timedelta

from crm_customers.domain import privacy
from crm_customers.domain.documents import PersonalDataPart, PersonalDataRequest

T0 = datetime(2026, 12, 1, 10, tzinfo=UTC)


def request(expected: list[str]) -> PersonalDataRequest:
    return {
        "_id": "pdr_1",
        "customer_id": "cus_1",
        "requested_at": T0,
        "requested_by": None,
        "expected": expected,
        "recorded_at": T0,
    }


def part(service: str, minutes: int) -> PersonalDataPart:
    return {
        "_id": f"pdr_1|{service}",
        "request_id": "pdr_1",
        "customer_id": "cus_1",
        "service": service,
        "data": {},
        "collected_at": T0,
        "received_at": T0 + timedelta(minutes=minutes),
        "event_id": service,
    }


def test_an_export_is_complete_when_every_expected_service_answered():
    r = request(["groups", "ledger"])
    p = privacy.progress(r, [part("ledger", 2)])
    assert (p.status, p.answered, p.awaited, p.completed_at) == ("collecting", ["ledger"], ["groups"], None)
    # a service nobody waits for is shown but completes nothing
    p = privacy.progress(r, [part("ledger", 2), part("extra", 9), part("groups", 5)])
    assert p.status == "complete" and p.awaited == []
    assert p.answered == ["ledger", "groups", "extra"]
    assert p.completed_at == T0 + timedelta(minutes=5)


def test_an_export_expecting_nobody_is_complete_at_once():
    p = privacy.progress(request([]), [])
    assert p.status == "complete" and p.completed_at == T0


def test_erasure_status_follows_its_outcome_and_completion():
    assert privacy.erasure_status(None, None) == "scheduled"
    cancelled = {"_id": "era_1", "outcome": "cancelled", "at": T0, "by": "dpo"}
    carrying = {"_id": "era_1", "outcome": "carrying_out", "at": T0, "by": "job"}
    assert privacy.erasure_status(cancelled, None) == "cancelled"  # type: ignore[arg-type]
    assert privacy.erasure_status(carrying, None) == "carrying_out"  # type: ignore[arg-type]
    done = {"_id": "era_1", "customer_id": "cus_1", "at": T0}
    assert privacy.erasure_status(carrying, done) == "carried_out"  # type: ignore[arg-type]
    assert privacy.due_at(T0, 10) == T0 + timedelta(days=10)
    assert privacy.due_at(T0, 0) == T0


def test_a_merge_takes_the_other_records_new_addresses_and_tags_keeping_its_defaults():
    from crm_customers.domain import merges
    from crm_customers.domain.customer import new_customer

    def address(id_: str, type_: str, city: str, default: bool) -> dict:
        return {
            "id": id_, "type": type_, "is_default": default, "first_name": None, "last_name": None,
            "company": None, "line1": "Rua 1", "line2": None, "city": city, "province": None,
            "postal_code": None, "country_code": "PT", "phone": None, "created_at": T0,
        }  # fmt: skip

    kept = new_customer("cus_k", email="k@example.com", now=T0, has_account=True, tags=["vip"])
    kept["addresses"] = [address("a1", "shipping", "Lisboa", True)]  # type: ignore[list-item]
    other = new_customer("cus_o", email="o@example.com", now=T0, has_account=False, tags=["vip", "b2b"])
    other["addresses"] = [  # type: ignore[list-item]
        address("a2", "shipping", "Lisboa", True),  # the same address: not taken twice
        address("a3", "shipping", "Porto", True),
        address("a4", "billing", "Faro", True),
    ]
    out, added, tags = merges.merged_into(kept, other)
    assert (added, tags, out["tags"]) == (2, ["b2b"], ["vip", "b2b"])
    defaults = {a["type"]: a["city"] for a in out["addresses"] if a["is_default"]}
    assert defaults == {"shipping": "Lisboa", "billing": "Faro"}
