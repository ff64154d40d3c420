"""Product reviews with moderation, with no I/O: the stored document, the moderation moves
and the events a storefront gets.

pending --publish--> published --reject--> rejected --publish--> published ...
A review is versioned (each change an inserted (id, version) carrying its events, store.py).
Storefronts hear of published reviews only: `review.published` when one is published and
again when a published one changes (a reply), `review.withdrawn` when it is taken down."""

import hashlib
import uuid
from datetime import datetime
from typing import Any, Literal, NotRequired, TypedDict

from crm_contracts.outbound import ReviewPublished, ReviewReply, ReviewWithdrawn
from crm_engagement.domain import keyset
from crm_servicekit.errors import Conflict

ReviewStatus = Literal["pending", "published", "rejected"]


class Reply(TypedDict):
    body: str
    author: str | None
    at: datetime


class ReviewDoc(TypedDict):
    _id: str  # rev_<hex>, or derived from the storefront's own review id
    version: int
    product_id: str
    sku: str | None
    customer_id: str | None
    email: str | None
    email_key: str | None
    author_name: str | None  # the name the customer chose to show
    rating: int
    title: str
    body: str
    status: ReviewStatus
    reject_reason: str | None
    moderated_by: str | None
    moderated_at: datetime | None
    published_at: datetime | None  # the last time it was published
    reply: Reply | None
    created_at: datetime
    updated_at: datetime
    erased: NotRequired[bool]  # the author was erased: rating, product and times stay, no text


def review_id(external_id: str | None = None) -> str:
    """A new review's id; from the storefront's review id it is always the same, so a retried
    submission stores one review."""
    if external_id is None:
        return f"rev_{uuid.uuid4().hex}"
    return "rev_" + hashlib.sha256(f"review:{external_id}".encode()).hexdigest()[:32]


def new_review(
    id_: str,
    *,
    product_id: str,
    sku: str | None,
    customer_id: str | None,
    email: str | None,
    email_key: str | None,
    author_name: str | None,
    rating: int,
    title: str,
    body: str,
    now: datetime,
) -> ReviewDoc:
    return {
        "_id": id_,
        "version": 1,
        "product_id": product_id,
        "sku": sku,
        "customer_id": customer_id,
        "email": email,
        "email_key": email_key,
        "author_name": author_name,
        "rating": rating,
        "title": title,
        "body": body,
        "status": "pending",
        "reject_reason": None,
        "moderated_by": None,
        "moderated_at": None,
        "published_at": None,
        "reply": None,
        "created_at": now,
        "updated_at": now,
    }


def _next(review: ReviewDoc, now: datetime, **changes: Any) -> ReviewDoc:
    out: ReviewDoc = {**review, **changes}  # type: ignore[typeddict-item]
    out["version"] = review["version"] + 1
    out["updated_at"] = max(now, review["updated_at"])
    return out


def publish(review: ReviewDoc, by: str | None, now: datetime) -> ReviewDoc:
    if review["status"] == "published":
        raise Conflict("review-published", "Already published", "the review is published already")
    return _next(
        review,
        now,
        status="published",
        reject_reason=None,
        moderated_by=by,
        moderated_at=now,
        published_at=now,
    )


def reject(review: ReviewDoc, reason: str, by: str | None, now: datetime) -> ReviewDoc:
    if review["status"] == "rejected":
        raise Conflict("review-rejected", "Already rejected", "the review is rejected already")
    return _next(review, now, status="rejected", reject_reason=reason, moderated_by=by, moderated_at=now)


def set_reply(review: ReviewDoc, body: str, author: str | None, now: datetime) -> ReviewDoc:
    """The shop's answer, replacing any earlier one; allowed in every state (a reply may be
    written before the review is published)."""
    return _next(review, now, reply={"body": body, "author": author, "at": now})


AUTHOR_ERASED = "the author was erased"


def anonymised(review: ReviewDoc, customer_id: str, now: datetime) -> ReviewDoc:
    """The review once its author is erased. A review's title and text are its author's own
    words: personal data that may name or describe them, which no rule can tell is anonymous,
    so they go (with the shop's reply, which answers them, and the shown name). What stays is
    not about anyone: the product, the rating and the times, so that a product's rating counts
    stay true. A published review is withdrawn (nothing is left to show)."""
    changes: dict[str, Any] = {
        "customer_id": review["customer_id"] or customer_id,
        "email": None,
        "email_key": None,
        "author_name": None,
        "title": "",
        "body": "",
        "reply": None,
        "erased": True,
    }
    if review["status"] == "published":
        changes.update(status="rejected", reject_reason=AUTHOR_ERASED, moderated_by=None, moderated_at=now)
    return _next(review, now, **changes)


def belongs_to(review: ReviewDoc, customer_id: str, email_key: str | None) -> bool:
    """The customer's review: by id, or written with its e-mail before any id was known."""
    if review["customer_id"] is not None:
        return review["customer_id"] == customer_id
    return email_key is not None and review["email_key"] == email_key


def reattributed(review: ReviewDoc, customer_id: str, now: datetime) -> ReviewDoc:
    """The review once its author was merged into `customer_id` (customer.merged): the kept
    customer's, one version up; text, rating, status and shown name stay."""
    return _next(review, now, customer_id=customer_id)


def published_data(review: ReviewDoc) -> ReviewPublished:
    assert review["published_at"] is not None
    reply = review["reply"]
    return ReviewPublished(
        id=review["_id"],
        version=review["version"],
        product_id=review["product_id"],
        sku=review["sku"],
        customer_id=review["customer_id"],
        author_name=review["author_name"],
        rating=review["rating"],
        title=review["title"],
        body=review["body"],
        reply=ReviewReply(body=reply["body"], at=reply["at"]) if reply else None,
        submitted_at=review["created_at"],
        published_at=review["published_at"],
        updated_at=review["updated_at"],
    )


def withdrawn_data(review: ReviewDoc) -> ReviewWithdrawn:
    return ReviewWithdrawn(
        id=review["_id"],
        version=review["version"],
        product_id=review["product_id"],
        sku=review["sku"],
        at=review["updated_at"],
    )


def storefront_event(before: ReviewDoc, after: ReviewDoc) -> ReviewPublished | ReviewWithdrawn | None:
    """What storefronts hear of a change: the new state if the review is published after it,
    its withdrawal if it was published before and is not now, nothing otherwise."""
    if after["status"] == "published":
        return published_data(after)
    if before["status"] == "published":
        return withdrawn_data(after)
    return None


def query_filter(
    *, status: str | None, product_id: str | None, rating: int | None, after: list[Any] | None
) -> dict[str, Any]:
    clauses: list[dict[str, Any]] = [
        {f: v}
        for f, v in (("status", status), ("product_id", product_id), ("rating", rating))
        if v is not None
    ]
    if after is not None:
        clauses.append(keyset.after(SORT, after))
    return keyset.combine(clauses)


SORT: list[tuple[str, int]] = [("created_at", -1), ("_id", -1)]  # newest first
