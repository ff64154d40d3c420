"""The events a journal record publishes (they go out through the record itself, the outbox)
and the events of the rewards (coupon issued, points reversed). Event ids are derived from the record id, so a
record's event always has the same id."""

from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from crm_contracts import new_event
from crm_contracts.names import EventType as T
from crm_contracts.outbound import (
    LedgerDebitRejected,
    LedgerEntryRecorded,
    LedgerHoldChanged,
    ReferralConverted,
    RewardCouponIssued,
    RewardPointsReversed,
)
from crm_ledger.domain import Coupon, JournalRecord, Referral, Reversal

HOLD_EVENTS = {
    "active": T.LEDGER_HOLD_PLACED,
    "captured": T.LEDGER_HOLD_CAPTURED,
    "voided": T.LEDGER_HOLD_VOIDED,
    "expired": T.LEDGER_HOLD_EXPIRED,
}


def event_id(kind: str, record_id: str) -> str:
    return str(uuid5(NAMESPACE_URL, f"crm-ledger:{kind}:{record_id}"))


def record_events(source: str, doc: JournalRecord) -> list[dict[str, Any]]:
    """ledger.debit.rejected for a rejection, ledger.entry.recorded for an entry, and the
    hold's event when the record changes a hold (a captured hold's purchase has both)."""
    out = []
    if doc["type"] == "rejection":
        rejected = LedgerDebitRejected(
            customer_id=doc["customer_id"],
            currency=doc["currency"],
            amount=doc["requested"],
            available=doc["available"],
            order_id=doc.get("order_id"),
            reason=doc["description"],
        )
        out.append(
            new_event(
                T.LEDGER_DEBIT_REJECTED,
                source,
                rejected,
                subject=doc["customer_id"],
                id=event_id("rejected", doc["_id"]),
            )
        )
    if doc["type"] == "entry":
        entry = LedgerEntryRecorded(
            id=doc["_id"],
            customer_id=doc["customer_id"],
            currency=doc["currency"],
            kind=doc["kind"],
            amount=doc["amount"],
            balance_after=doc["balance_after"],
            sequence=doc["sequence"],
            order_id=doc.get("order_id"),
            caused_by=doc.get("caused_by"),
            at=doc["at"],
            available_after=doc["available_after"],
            hold_id=doc.get("hold_id"),
            expires_at=doc.get("expires_at"),
        )
        out.append(
            new_event(
                T.LEDGER_ENTRY_RECORDED,
                source,
                entry,
                subject=doc["customer_id"],
                id=event_id("entry", doc["_id"]),
            )
        )
    if status := doc.get("hold_status"):
        hold = LedgerHoldChanged(
            id=doc["hold_id"],
            customer_id=doc["customer_id"],
            currency=doc["currency"],
            amount=doc["hold_amount"],
            status=status,
            expires_at=doc["hold_expires_at"],
            order_id=doc.get("order_id"),
            captured_amount=-doc["amount"] if doc["type"] == "entry" else None,
            available_after=doc["available_after"],
            at=doc["at"],
        )
        out.append(
            new_event(
                HOLD_EVENTS[status],
                source,
                hold,
                subject=doc["customer_id"],
                id=event_id("hold", doc["_id"]),
            )
        )
    return out


def coupon_issued(source: str, coupon: Coupon) -> dict[str, Any]:
    return new_event(
        T.REWARD_COUPON_ISSUED,
        source,
        RewardCouponIssued(
            code=coupon["code"],
            customer_id=coupon["customer_id"],
            kind=coupon["kind"],
            value=coupon["value"],
            currency=coupon["currency"],
            expires_at=coupon["expires_at"],
            source=coupon.get("source", "points"),
        ),
        subject=coupon["customer_id"],
        id=event_id("coupon", coupon["code"]),
    )


def points_reversed(
    source: str, customer_id: str, cause: str, r: Reversal, refund_id: str | None, at: datetime
) -> dict[str, Any]:
    return new_event(
        T.REWARD_POINTS_REVERSED,
        source,
        RewardPointsReversed(
            customer_id=customer_id,
            order_id=r.order_id,
            cause=r.cause,
            refund_id=refund_id,
            requested=r.requested,
            points=r.points,
            points_after=r.points_after,
            reason=r.reason,
            revoked_coupons=list(r.revoked),
            at=at,
        ),
        subject=customer_id,
        id=event_id("points-reversed", f"{customer_id}:{cause}"),
    )


def referral_converted(source: str, r: Referral) -> dict[str, Any]:
    return new_event(
        T.REFERRAL_CONVERTED,
        source,
        ReferralConverted(
            referrer_id=r["referrer_id"],
            referee_id=r["_id"],
            code=r["code"],
            order_id=r["order_id"],
            at=r["at"],
        ),
        subject=r["referrer_id"],
        id=event_id("referral", r["_id"]),
    )
