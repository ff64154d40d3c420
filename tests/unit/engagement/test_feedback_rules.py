"""Issue 18: the pure rules of surveys (signed expiring links, NPS), the preference centre
(newest statement per topic and channel) and the personal-data export."""

from datetime import UTC, datetime, timedelta

from crm_engagement.domain import preferences as p
from crm_engagement.domain import privacy
from crm_engagement.domain import surveys as s

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
SECRET = "s" * 40


def test_nps_is_percent_promoters_minus_percent_detractors():
    got = s.summary([10, 9, 9, 8, 7, 6, 0])
    assert got == {
        "responses": 7,
        "promoters": 3,
        "passives": 2,
        "detractors": 2,
        "nps": round(100 * 1 / 7, 1),
        "average": round(49 / 7, 2),
    }
    assert s.summary([])["nps"] is None
    assert s.summary([6, 6])["nps"] == -100.0 and s.summary([9])["nps"] == 100.0
    assert [s.category(x) for x in (0, 6, 7, 8, 9, 10)] == [
        "detractor",
        "detractor",
        "passive",
        "passive",
        "promoter",
        "promoter",
    ]


def test_periods_are_utc_days_iso_weeks_and_months():
    assert s.period_of(T0, "day") == "2026-12-01"
    assert s.period_of(T0, "week") == "2026-W49"
    assert s.period_of(T0, "month") == "2026-12"


def test_a_survey_token_names_survey_customer_and_expiry_and_cannot_be_forged():
    token = s.token(SECRET, "srv_1", "cus_1", T0 + timedelta(days=1))
    t = s.read_token(SECRET, token)
    assert t is not None and (t.survey_id, t.customer_id) == ("srv_1", "cus_1")
    assert t.expires == T0 + timedelta(days=1)
    assert s.read_token("x" * 40, token) is None
    assert s.read_token(SECRET, token[:-2] + "AA") is None
    assert s.read_token(SECRET, "garbage") is None
    other = s.token(SECRET, "srv_1", "cus_2", T0)
    assert s.read_token(SECRET, token.split(".")[0] + "." + other.split(".")[1]) is None
    assert s.answer_id("srv_1", "cus_1") == s.answer_id("srv_1", "cus_1") != s.answer_id("srv_1", "cus_2")


def change_set(at, *changes, source="preference-centre"):
    return {
        "_id": str(at),
        "customer_id": "cus_1",
        "changes": [{"topic": t, "channel": c, "granted": g} for t, c, g in changes],
        "at": at,
        "source": source,
        "recorded_at": at,
        "outbox": [],
        "published": True,
    }


def test_the_newest_statement_per_topic_and_channel_decides_and_nothing_stated_is_no():
    later = T0 + timedelta(minutes=1)
    now = p.current(
        [
            change_set(later, ("offers", "email", False)),
            change_set(T0, ("offers", "email", True), ("product_news", "sms", True)),
        ]
    )
    assert now[("offers", "email")] == {"granted": False, "at": later, "source": "preference-centre"}
    assert now[("product_news", "sms")]["granted"] is True
    assert now[("newsletter", "sms")] == {"granted": False, "at": None, "source": None}
    assert len(now) == 6
    # At the same time, a withdrawal wins.
    tie = p.current([change_set(T0, ("offers", "sms", False)), change_set(T0, ("offers", "sms", True))])
    assert tie[("offers", "sms")]["granted"] is False
    assert p.changed(now, {("offers", "email"): False, ("offers", "sms"): True}) == [
        {"topic": "offers", "channel": "sms", "granted": True}
    ]


def test_a_preference_token_expires_and_is_bound_to_its_purpose():
    token = p.token(SECRET, "cus_1", T0)
    assert p.read_token(SECRET, token) == ("cus_1", T0)
    assert s.read_token(SECRET, token) is None  # not a survey link


def test_an_unknown_customer_gets_every_kind_empty_and_ids_follow_the_cause():
    assert privacy.empty_export() == {
        "contact": None,
        "consent": [],
        "messages": [],
        "tickets": [],
        "reviews": [],
        "survey_answers": [],
    }
    assert privacy.collected_event_id("pdr_1") == privacy.collected_event_id("pdr_1")
    assert privacy.collected_event_id("pdr_1") != privacy.collected_event_id("pdr_2")
    assert privacy.erased_event_id("cus_1") != privacy.collected_event_id("cus_1")
    assert privacy.jsonable({"at": T0, "xs": [T0]}) == {
        "at": "2026-12-01T10:00:00Z",
        "xs": ["2026-12-01T10:00:00Z"],
    }


def test_an_erased_authors_review_keeps_product_and_rating_only_and_is_withdrawn():
    from crm_engagement.domain import reviews as r

    review = r.new_review(
        r.review_id(),
        product_id="prod_1",
        sku="SKU-1",
        customer_id=None,
        email="ana@example.com",
        email_key="ana@example.com",
        author_name="Ana L.",
        rating=2,
        title="Too small",
        body="As a nurse in Porto I need bigger sizes.",
        now=T0,
    )
    published = r.set_reply(r.publish(review, "maria", T0), "Sorry, Ana", "maria", T0)
    gone = r.anonymised(published, "cus_1", T0)
    assert (gone["title"], gone["body"], gone["author_name"], gone["reply"], gone["email"]) == (
        "",
        "",
        None,
        None,
        None,
    )
    assert (gone["product_id"], gone["rating"], gone["customer_id"]) == ("prod_1", 2, "cus_1")
    assert gone["status"] == "rejected" and gone["erased"] and gone["version"] == published["version"] + 1
    assert isinstance(r.storefront_event(published, gone), r.ReviewWithdrawn)


def test_a_large_export_leaves_out_mail_texts_then_the_oldest_mails_and_says_so():
    data = privacy.empty_export()
    data["messages"] = [{"id": f"msg_{i}", "subject": f"s{i}", "text": "x" * 1000} for i in range(100)]
    data["tickets"] = [{"id": "tkt_1", "messages": [{"body": "kept"}]}]
    assert privacy.fit(data, 10**6) is data
    smaller = privacy.fit(data, 20_000)
    assert privacy.size(smaller) <= 20_000 and smaller["omitted"]["message_texts"] == 100
    assert smaller["omitted"]["messages"] == 0 and "text" not in smaller["messages"][0]
    tiny = privacy.fit(data, 2_000)
    assert privacy.size(tiny) <= 2_000 and tiny["tickets"] == data["tickets"]
    assert tiny["omitted"]["messages"] + len(tiny["messages"]) == 100
    assert tiny["messages"][-1]["id"] == "msg_99"  # the newest stay
