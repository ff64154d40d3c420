"""Broker names (docs/contract.md §1): the exchange and every event type, which is also the routing key."""

from enum import StrEnum

EXCHANGE = "crm.events"
"""Durable topic exchange; every event is published here with routing key = event type."""

DEAD_LETTER_EXCHANGE = "crm.dead-letter"
"""Direct exchange; each service's dead-letter queue is bound with the service name as key."""

CONTENT_TYPE = "application/cloudevents+json"

LANE_HEADER = "crm-lane"
"""AMQP header a publisher of bulk traffic may set beside `crmlane: "bulk"` in the envelope:
with `crm-lane: bulk` the broker itself routes the event into each service's bulk lane, so live
events never queue behind it, not even for the moment the services take to move it there."""


class EventType(StrEnum):
    # inbound, published by storefronts
    ORDER_PLACED = "order.placed"
    ORDER_REFUNDED = "order.refunded"
    ORDER_CANCELLED = "order.cancelled"
    NEWSLETTER_SUBSCRIBED = "newsletter.subscribed"
    NEWSLETTER_UNSUBSCRIBED = "newsletter.unsubscribed"
    CHECKOUT_ABANDONED = "checkout.abandoned"
    # customers
    CUSTOMER_CREATED = "customer.created"
    CUSTOMER_UPDATED = "customer.updated"
    CUSTOMER_REGISTERED = "customer.registered"
    CUSTOMER_DELETED = "customer.deleted"
    CUSTOMER_VERIFICATION_REQUESTED = "customer.verification.requested"
    CUSTOMER_MERGED = "customer.merged"
    CUSTOMER_ERASURE_SCHEDULED = "customer.erasure.scheduled"
    CUSTOMER_ERASURE_CANCELLED = "customer.erasure.cancelled"
    TASK_CREATED = "task.created"
    TASK_UPDATED = "task.updated"
    TASK_DELETED = "task.deleted"
    # personal data (GDPR): customers asks, every service answers
    PERSONAL_DATA_REQUESTED = "personal_data.requested"
    PERSONAL_DATA_COLLECTED = "personal_data.collected"
    PERSONAL_DATA_ERASED = "personal_data.erased"
    # groups
    GROUP_CREATED = "group.created"
    GROUP_UPDATED = "group.updated"
    GROUP_DELETED = "group.deleted"
    GROUP_MEMBERS_ADDED = "group.members.added"
    GROUP_MEMBERS_REMOVED = "group.members.removed"
    GROUP_PRICING_UPDATED = "group.pricing.updated"
    # ledger
    LEDGER_ENTRY_RECORDED = "ledger.entry.recorded"
    LEDGER_DEBIT_REJECTED = "ledger.debit.rejected"
    LEDGER_HOLD_PLACED = "ledger.hold.placed"
    LEDGER_HOLD_CAPTURED = "ledger.hold.captured"
    LEDGER_HOLD_VOIDED = "ledger.hold.voided"
    LEDGER_HOLD_EXPIRED = "ledger.hold.expired"
    REWARD_COUPON_ISSUED = "reward.coupon.issued"
    REWARD_POINTS_REVERSED = "reward.points.reversed"
    REFERRAL_CONVERTED = "referral.converted"
    # segments
    SEGMENT_CREATED = "segment.created"
    SEGMENT_UPDATED = "segment.updated"
    SEGMENT_DELETED = "segment.deleted"
    SEGMENT_MEMBER_JOINED = "segment.member.joined"
    SEGMENT_MEMBER_LEFT = "segment.member.left"
    # engagement
    REVIEW_PUBLISHED = "review.published"
    REVIEW_WITHDRAWN = "review.withdrawn"
    TICKET_CREATED = "ticket.created"
    TICKET_UPDATED = "ticket.updated"
    TICKET_MESSAGE_ADDED = "ticket.message.added"
    PREFERENCES_UPDATED = "preferences.updated"
    MESSAGE_SENT = "message.sent"
    MESSAGE_FAILED = "message.failed"
    CAMPAIGN_COMPLETED = "campaign.completed"
    SURVEY_RESPONSE_RECORDED = "survey.response.recorded"
