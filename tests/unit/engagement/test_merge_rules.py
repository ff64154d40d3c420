"""Issue 15, merging customers: which tickets and reviews are the merged customer's (by id, or
by e-mail when opened before any id was known), and what moving one to the kept customer does."""

from datetime import UTC, datetime, timedelta

from crm_engagement.domain import reviews as r
from crm_engagement.domain import tickets as t

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def ticket(customer_id):
    return t.new_ticket(
        t.ticket_id(),
        subject="Parcel late",
        customer_id=customer_id,
        email="ana@example.com",
        email_key="ana@example.com",
        priority="normal",
        assignee_id=None,
        order_ids=[],
        channel="inbound",
        now=T0,
        first_response_hours=24,
    )


def review(customer_id):
    return r.new_review(
        r.review_id(),
        product_id="prod_1",
        sku=None,
        customer_id=customer_id,
        email="ana@example.com",
        email_key="ana@example.com",
        author_name="Ana L.",
        rating=4,
        title="Good",
        body="Comfortable",
        now=T0,
    )


def test_a_ticket_is_the_merged_customers_by_id_or_by_email_without_an_id():
    assert t.belongs_to(ticket("cus_gone"), "cus_gone", None)
    assert t.belongs_to(ticket(None), "cus_gone", "ana@example.com")
    assert not t.belongs_to(ticket(None), "cus_gone", None)
    assert not t.belongs_to(ticket("cus_other"), "cus_gone", "ana@example.com")  # another's, same address
    assert not t.belongs_to(ticket("cus_kept"), "cus_gone", "ana@example.com")  # moved already


def test_a_moved_ticket_is_the_kept_customers_one_version_up_with_its_conversation():
    before = ticket("cus_gone")
    after = t.reattributed(before, "cus_kept", T0 + timedelta(minutes=5))
    assert after["customer_id"] == "cus_kept" and after["version"] == before["version"] + 1
    assert after["subject"] == before["subject"] and after["email"] == before["email"]
    assert after["updated_at"] == T0 + timedelta(minutes=5)
    assert t.state_data(after).customer_id == "cus_kept"


def test_a_moved_review_keeps_its_text_rating_and_status():
    before = review(None)
    assert r.belongs_to(before, "cus_gone", "ana@example.com")
    after = r.reattributed(before, "cus_kept", T0)
    assert after["customer_id"] == "cus_kept" and after["version"] == before["version"] + 1
    assert (after["title"], after["body"], after["rating"], after["status"]) == (
        "Good",
        "Comfortable",
        4,
        "pending",
    )
    assert not r.belongs_to(after, "cus_gone", "ana@example.com")
