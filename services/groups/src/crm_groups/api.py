"""HTTP API of the groups service (under /v1)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from crm_groups import domain, lifecycle, membership
from crm_groups.context import Context
from crm_groups.schemas import (
    CustomerGroupsPage,
    GroupCreate,
    GroupOut,
    GroupPatch,
    GroupsPage,
    MembershipChange,
    MembershipOut,
    MembersPage,
    PricingOut,
)
from crm_servicekit.pagination import Cursor, Limit, decode_cursor, encode_cursor
from crm_servicekit.problems import Problem, invalid, not_found
from crm_servicekit.service import context

router = APIRouter(tags=["groups"])
Ctx = Annotated[Context, Depends(context)]


def _cursor_field(cursor: str | None, *fields: str) -> tuple[Any, ...] | None:
    key = decode_cursor(cursor)
    if key is None:
        return None
    if not all(isinstance(key.get(f), str) for f in fields):
        raise invalid(
            "cursor is not a cursor this API returned",
            errors=[{"field": "cursor", "message": "invalid cursor"}],
        )
    return tuple(key[f] for f in fields)


async def _group_or_404(ctx: Context, group_id: str) -> dict[str, Any]:
    doc = await ctx.store.get(group_id)
    if doc is None:
        raise not_found("Group", group_id)
    return doc


async def _customer_or_404(ctx: Context, customer_id: str) -> None:
    if not await ctx.store.customer_exists(customer_id):
        raise not_found("Customer", customer_id)


@router.post("/groups", status_code=201, response_model=GroupOut)
async def create_group(body: GroupCreate, ctx: Ctx) -> dict[str, Any]:
    fields = body.model_dump(exclude={"metadata"})
    return await lifecycle.create(ctx, fields, body.metadata)


@router.get("/groups", response_model=GroupsPage)
async def list_groups(
    ctx: Ctx,
    q: Annotated[str | None, Query(max_length=100, description="Part of the name, any case")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    after = _cursor_field(cursor, "n", "i")
    docs = await ctx.store.list_groups(q, after, limit + 1)  # type: ignore[arg-type]
    page, more = docs[:limit], len(docs) > limit
    counts = await ctx.store.member_counts([d["_id"] for d in page])
    return {
        "items": [domain.group_view(d, counts.get(d["_id"], 0)) for d in page],
        "next_cursor": encode_cursor({"n": page[-1]["name_key"], "i": page[-1]["_id"]}) if more else None,
    }


@router.get("/groups/{group_id}", response_model=GroupOut)
async def get_group(group_id: str, ctx: Ctx) -> dict[str, Any]:
    doc = await _group_or_404(ctx, group_id)
    return domain.group_view(doc, await ctx.store.member_count(group_id))


@router.patch("/groups/{group_id}", response_model=GroupOut)
async def edit_group(group_id: str, body: GroupPatch, ctx: Ctx) -> dict[str, Any]:
    return await lifecycle.edit(ctx, group_id, body.changes(), body.metadata)


@router.delete("/groups/{group_id}", status_code=204, response_class=Response)
async def delete_group(group_id: str, ctx: Ctx) -> Response:
    await lifecycle.delete(ctx, group_id)
    return Response(status_code=204)


@router.post("/groups/{group_id}/customers", response_model=MembershipOut)
async def change_members(group_id: str, body: MembershipChange, ctx: Ctx) -> dict[str, Any]:
    """Adds and removes members in bulk. Idempotent: adding a member or removing a
    non-member changes nothing and announces nothing."""
    limit = ctx.settings.max_bulk_ids
    add, remove = domain.unique(body.add), domain.unique(body.remove)
    errors = [
        {"field": f, "message": f"at most {limit} ids per call"}
        for f, ids in (("add", add), ("remove", remove))
        if len(ids) > limit
    ]
    both = sorted(set(add) & set(remove))
    if both:
        errors.append({"field": "remove", "message": f"ids both added and removed: {', '.join(both[:20])}"})
    if errors:
        raise invalid("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)
    group = await _group_or_404(ctx, group_id)
    unknown = await ctx.store.unknown_customers(add)
    if unknown:
        raise Problem(
            422,
            "unknown-customers",
            "Unknown customers",
            f"{len(unknown)} customer id(s) in add are unknown",
            errors=[{"field": "add", "message": "unknown customer ids"}],
            unknown_customer_ids=unknown,
        )
    outcome = await membership.change_members(ctx, group, add, remove)
    return {
        "group_id": group_id,
        "added": outcome.added,
        "removed": outcome.removed,
        "member_count": await ctx.store.member_count(group_id),
    }


@router.get("/groups/{group_id}/customers", response_model=MembersPage)
async def list_members(group_id: str, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None) -> dict[str, Any]:
    await _group_or_404(ctx, group_id)
    after = _cursor_field(cursor, "c")
    docs = await ctx.store.members_page(group_id, after[0] if after else None, limit + 1)
    page, more = docs[:limit], len(docs) > limit
    return {
        "items": [{"customer_id": d["customer_id"], "added_at": d["added_at"]} for d in page],
        "next_cursor": encode_cursor({"c": page[-1]["customer_id"]}) if more else None,
    }


@router.get("/customers/{customer_id}/groups", response_model=CustomerGroupsPage)
async def groups_of_customer(
    customer_id: str, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None
) -> dict[str, Any]:
    await _customer_or_404(ctx, customer_id)
    after = _cursor_field(cursor, "g")
    rows = await ctx.store.memberships_of(customer_id, after[0] if after else None, limit + 1)
    page, more = rows[:limit], len(rows) > limit
    groups = await ctx.store.groups_by_id([r["group_id"] for r in page])
    counts = await ctx.store.member_counts(list(groups))
    items = [
        {**domain.group_view(groups[r["group_id"]], counts.get(r["group_id"], 0)), "added_at": r["added_at"]}
        for r in page
        if r["group_id"] in groups
    ]  # a group being deleted is left out
    return {"items": items, "next_cursor": encode_cursor({"g": page[-1]["group_id"]}) if more else None}


def _pricing_group(g: Any) -> dict[str, Any]:
    return {
        "id": g["id"],
        "name": g["name"],
        "priority": g.get("priority", 0),
        "discount_percent": g.get("discount_percent"),
        "price_tier": g.get("price_tier"),
    }


@router.get("/customers/{customer_id}/pricing", response_model=PricingOut)
async def pricing_of_customer(customer_id: str, ctx: Ctx) -> dict[str, Any]:
    """The one pricing that applies to the customer: of its groups with a discount or a price
    tier, the highest priority wins, then the best discount."""
    await _customer_or_404(ctx, customer_id)
    rows = await ctx.store.memberships_of(customer_id)
    groups = await ctx.store.groups_by_id([r["group_id"] for r in rows])
    best, ranked = domain.applicable_pricing(groups.values())
    return {
        "customer_id": customer_id,
        "discount_percent": best.get("discount_percent") if best else None,
        "price_tier": best.get("price_tier") if best else None,
        "group": _pricing_group(best) if best else None,
        "considered": [_pricing_group(g) for g in ranked],
    }
