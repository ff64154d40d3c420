"""Issue 18: the pure rules of product review moderation and what storefronts hear of it."""

from datetime import UTC, datetime, timedelta

import pytest

from crm_contracts.outbound import ReviewPublished, ReviewWithdrawn
from crm_engagement.domain import reviews as r
from crm_servicekit.errors import Conflict

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)


def review():
    return r.new_review(
        r.review_id(),
        product_id="prod_1",
        sku="SKU-1",
        customer_id="cus_1",
        email="ana@example.com",
        email_key="ana@example.com",
        author_name="Ana L.",
        rating=4,
        title="Good",
        body="Comfortable",
        now=T0,
    )


def test_pending_is_not_heard_of_by_storefronts():
    pending = review()
    replied = r.set_reply(pending, "Thanks", "maria@shop.example", T1)
    assert replied["status"] == "pending" and replied["version"] == 2
    assert r.storefront_event(pending, replied) is None
    rejected = r.reject(pending, "spam", "maria@shop.example", T1)
    assert r.storefront_event(pending, rejected) is None


def test_publishing_sends_the_state_a_storefront_shows_without_the_email():
    pending = review()
    published = r.publish(pending, "maria@shop.example", T1)
    event = r.storefront_event(pending, published)
    assert isinstance(event, ReviewPublished)
    assert event.version == 2 and event.rating == 4 and event.published_at == T1 and event.submitted_at == T0
    assert "email" not in event.model_dump() and event.author_name == "Ana L."


def test_a_reply_on_a_published_review_publishes_it_again_with_the_reply():
    published = r.publish(review(), None, T1)
    replied = r.set_reply(published, "Thank you!", "maria@shop.example", T1 + timedelta(minutes=5))
    event = r.storefront_event(published, replied)
    assert isinstance(event, ReviewPublished) and event.version == 3
    assert event.reply is not None and event.reply.body == "Thank you!"


def test_rejecting_a_published_review_withdraws_it_and_keeps_the_reason_here():
    published = r.publish(review(), None, T1)
    rejected = r.reject(published, "Contains a phone number", "maria@shop.example", T1)
    event = r.storefront_event(published, rejected)
    assert isinstance(event, ReviewWithdrawn) and event.version == 3
    assert rejected["reject_reason"] == "Contains a phone number"
    assert "reason" not in event.model_dump()
    again = r.publish(rejected, None, T1)
    assert again["reject_reason"] is None and again["status"] == "published"


def test_repeated_moderation_is_a_conflict():
    published = r.publish(review(), None, T1)
    with pytest.raises(Conflict):
        r.publish(published, None, T1)
    rejected = r.reject(review(), "no", None, T1)
    with pytest.raises(Conflict):
        r.reject(rejected, "no", None, T1)


def test_filter_and_stable_ids():
    assert r.query_filter(status="pending", product_id=None, rating=5, after=None) == {
        "$and": [{"status": "pending"}, {"rating": 5}]
    }
    assert r.review_id("ext-1") == r.review_id("ext-1") != r.review_id("ext-2")
