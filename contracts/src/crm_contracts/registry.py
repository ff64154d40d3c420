"""Which `data` model belongs to which event type."""

from pydantic import BaseModel

from crm_contracts import inbound, outbound
from crm_contracts.names import EventType as T

INBOUND: dict[str, type[BaseModel]] = {
    T.ORDER_PLACED: inbound.OrderPlaced,
    T.ORDER_REFUNDED: inbound.OrderRefunded,
    T.ORDER_CANCELLED: inbound.OrderCancelled,
    T.NEWSLETTER_SUBSCRIBED: inbound.NewsletterSubscribed,
    T.NEWSLETTER_UNSUBSCRIBED: inbound.NewsletterUnsubscribed,
    T.CHECKOUT_ABANDONED: inbound.CheckoutAbandoned,
}

OUTBOUND: dict[str, type[BaseModel]] = {
    T.CUSTOMER_CREATED: outbound.CustomerState,
    T.CUSTOMER_UPDATED: outbound.CustomerState,
    T.CUSTOMER_REGISTERED: outbound.CustomerState,
    T.CUSTOMER_DELETED: outbound.CustomerDeleted,
    T.CUSTOMER_VERIFICATION_REQUESTED: outbound.CustomerVerificationRequested,
    T.CUSTOMER_MERGED: outbound.CustomerMerged,
    T.CUSTOMER_ERASURE_SCHEDULED: outbound.CustomerErasureChanged,
    T.CUSTOMER_ERASURE_CANCELLED: outbound.CustomerErasureChanged,
    T.TASK_CREATED: outbound.TaskState,
    T.TASK_UPDATED: outbound.TaskState,
    T.TASK_DELETED: outbound.TaskDeleted,
    T.PERSONAL_DATA_REQUESTED: outbound.PersonalDataRequested,
    T.PERSONAL_DATA_COLLECTED: outbound.PersonalDataCollected,
    T.PERSONAL_DATA_ERASED: outbound.PersonalDataErased,
    T.GROUP_CREATED: outbound.GroupState,
    T.GROUP_UPDATED: outbound.GroupState,
    T.GROUP_DELETED: outbound.GroupDeleted,
    T.GROUP_MEMBERS_ADDED: outbound.GroupMembersChanged,
    T.GROUP_MEMBERS_REMOVED: outbound.GroupMembersChanged,
    T.GROUP_PRICING_UPDATED: outbound.GroupPricingUpdated,
    T.LEDGER_ENTRY_RECORDED: outbound.LedgerEntryRecorded,
    T.LEDGER_DEBIT_REJECTED: outbound.LedgerDebitRejected,
    T.LEDGER_HOLD_PLACED: outbound.LedgerHoldChanged,
    T.LEDGER_HOLD_CAPTURED: outbound.LedgerHoldChanged,
    T.LEDGER_HOLD_VOIDED: outbound.LedgerHoldChanged,
    T.LEDGER_HOLD_EXPIRED: outbound.LedgerHoldChanged,
    T.REWARD_COUPON_ISSUED: outbound.RewardCouponIssued,
    T.REWARD_POINTS_REVERSED: outbound.RewardPointsReversed,
    T.REFERRAL_CONVERTED: outbound.ReferralConverted,
    T.SEGMENT_CREATED: outbound.SegmentState,
    T.SEGMENT_UPDATED: outbound.SegmentState,
    T.SEGMENT_DELETED: outbound.SegmentDeleted,
    T.SEGMENT_MEMBER_JOINED: outbound.SegmentMembership,
    T.SEGMENT_MEMBER_LEFT: outbound.SegmentMembership,
    T.REVIEW_PUBLISHED: outbound.ReviewPublished,
    T.REVIEW_WITHDRAWN: outbound.ReviewWithdrawn,
    T.TICKET_CREATED: outbound.TicketState,
    T.TICKET_UPDATED: outbound.TicketState,
    T.TICKET_MESSAGE_ADDED: outbound.TicketMessageAdded,
    T.PREFERENCES_UPDATED: outbound.PreferencesUpdated,
    T.MESSAGE_SENT: outbound.MessageOutcome,
    T.MESSAGE_FAILED: outbound.MessageOutcome,
    T.CAMPAIGN_COMPLETED: outbound.CampaignCompleted,
    T.SURVEY_RESPONSE_RECORDED: outbound.SurveyResponseRecorded,
}

EVENT_MODELS: dict[str, type[BaseModel]] = {**INBOUND, **OUTBOUND}
