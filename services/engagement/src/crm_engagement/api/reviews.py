"""HTTP API of product reviews: thin routes over the Reviews use cases. The moderator is the
X-CRM-Operator header (servicekit puts it in `logs.operator_var`)."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from crm_engagement.api import paging
from crm_engagement.context import Ctx
from crm_engagement.domain import reviews as rules
from crm_engagement.domain.reviews import ReviewDoc
from crm_engagement.schemas.reviews import RejectIn, ReviewIn, ReviewOut, ReviewReplyIn, ReviewsPage
from crm_servicekit import logs
from crm_servicekit.pagination import Cursor, Limit

router = APIRouter(tags=["reviews"])

SORT_NAME = "created"


def _review(r: ReviewDoc) -> dict[str, Any]:
    return {"id": r["_id"], **{k: v for k, v in r.items() if k not in ("_id", "email_key")}}


@router.post(
    "/reviews",
    status_code=201,
    response_model=ReviewOut,
    responses={200: {"model": ReviewOut, "description": "The review stored first with this `external_id`"}},
)
async def submit_review(body: ReviewIn, ctx: Ctx, response: Response) -> dict[str, Any]:
    """A review from a storefront, pending moderation: nothing is published yet. The same
    `external_id` again: 200 with the review stored first."""
    doc, created = await ctx.reviews.submit(
        product_id=body.product_id,
        sku=body.sku,
        customer_id=body.customer_id,
        email=str(body.email) if body.email else None,
        author_name=body.author_name,
        rating=body.rating,
        title=body.title,
        body=body.body,
        external_id=body.external_id,
    )
    response.status_code = 201 if created else 200
    return _review(doc)


@router.get("/reviews", response_model=ReviewsPage)
async def list_reviews(
    ctx: Ctx,
    status: Literal["pending", "published", "rejected"] | None = None,
    product_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    rating: Annotated[int | None, Query(ge=1, le=5)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Newest first."""
    docs = await ctx.reviews.list(
        status=status,
        product_id=product_id,
        rating=rating,
        after=paging.after(cursor, SORT_NAME, rules.SORT),
        limit=limit,
    )
    items, next_cursor = paging.page(docs, limit, SORT_NAME, rules.SORT)
    return {"items": [_review(r) for r in items], "next_cursor": next_cursor}


@router.get("/reviews/{review_id}", response_model=ReviewOut)
async def get_review(review_id: str, ctx: Ctx) -> dict[str, Any]:
    return _review(await ctx.reviews.get(review_id))


@router.post(
    "/reviews/{review_id}/publish",
    response_model=ReviewOut,
    responses={409: {"description": "review-published"}},
)
async def publish_review(review_id: str, ctx: Ctx) -> dict[str, Any]:
    """Pending or rejected → published, with `review.published`; published already: 409."""
    return _review(await ctx.reviews.publish(review_id, logs.operator_var.get()))


@router.post(
    "/reviews/{review_id}/reject",
    response_model=ReviewOut,
    responses={409: {"description": "review-rejected"}},
)
async def reject_review(review_id: str, body: RejectIn, ctx: Ctx) -> dict[str, Any]:
    """Pending or published → rejected with a reason (kept here, not sent to storefronts); a
    published one is withdrawn (`review.withdrawn`). Rejected already: 409."""
    return _review(await ctx.reviews.reject(review_id, body.reason, logs.operator_var.get()))


@router.put("/reviews/{review_id}/reply", response_model=ReviewOut)
async def reply_to_review(review_id: str, body: ReviewReplyIn, ctx: Ctx) -> dict[str, Any]:
    """The shop's answer (replaces an earlier one); on a published review `review.published`
    goes out again with it."""
    return _review(await ctx.reviews.reply(review_id, body.body, body.author or logs.operator_var.get()))
