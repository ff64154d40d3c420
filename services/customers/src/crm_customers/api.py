"""HTTP API of the customers: create or register, search, read, edit, erase, password,
orders (under /v1; bearer auth and problem+json come from the service kit)."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from crm_contracts.types import utcnow
from crm_customers import domain, search
from crm_customers.models import CustomerCreate, CustomerOut, CustomerPatch, PasswordSet, Status
from crm_customers.operations import Customers, ms
from crm_customers.passwords import hash_password, verify_password
from crm_customers.stats import order_view
from crm_servicekit.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor
from crm_servicekit.problems import Problem, invalid
from crm_servicekit.service import context

router = APIRouter(tags=["customers"])
Ctx = Annotated[Customers, Depends(context)]

_FIELDS = ("first_name", "last_name", "phone", "company", "gender", "birthday", "tags", "metadata", "status")


def bad_cursor() -> Problem:
    return invalid(
        "cursor is not a cursor this API returned", errors=[{"field": "cursor", "message": "invalid cursor"}]
    )


@router.post(
    "/customers",
    status_code=201,
    responses={
        200: {"description": "A guest with this e-mail became registered"},
        409: {"description": "email-taken"},
    },
)
async def create_customer(body: CustomerCreate, ctx: Ctx, response: Response) -> CustomerOut:
    """Creates a customer. `has_account` (default true) with an e-mail that a guest has turns
    that guest into a registered customer (200, same id, its orders kept): never a duplicate."""
    given = body.model_dump(include=set(_FIELDS), exclude_unset=True)
    if given.get("birthday"):
        given["birthday"] = given["birthday"].isoformat()
    if "tags" in given:
        given["tags"] = domain.clean_tags(given["tags"] or [])
    given = {k: v for k, v in given.items() if v is not None}
    if "metadata" in given:
        given["metadata"] = {k: v for k, v in given["metadata"].items() if v is not None}
    if body.password and not body.has_account:
        raise invalid(
            "a guest has no password", errors=[{"field": "password", "message": "only with has_account"}]
        )
    if body.email_subscribed is not None:
        at = ms(utcnow())
        given.update(domain.set_consent({}, body.email_subscribed, at, "api"))
    hashed = await hash_password(body.password.get_secret_value()) if body.password else None
    doc, created = await ctx.register(body.email, body.has_account, given, hashed)
    if not created:
        response.status_code = 200
    return domain.public_view(doc)


@router.get("/customers")
async def list_customers(
    ctx: Ctx,
    limit: Limit = 50,
    cursor: Cursor = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Prefix of e-mail, first, last or full name")
    ] = None,
    has_account: bool | None = None,
    group_id: Annotated[str | None, Query(max_length=100)] = None,
    tag: Annotated[str | None, Query(max_length=50)] = None,
    status: Status | None = None,
    sort: search.Sort = "-created_at",
) -> Page[CustomerOut]:
    raw = decode_cursor(cursor)
    if raw is not None and raw.get("s") != sort:
        raise bad_cursor()
    try:
        after = search.decode_after(raw, sort)
    except (ValueError, TypeError):
        raise bad_cursor() from None
    query = search.build(
        q=q, has_account=has_account, group_id=group_id, tag=tag, status=status, sort=sort, after=after
    )
    docs = await ctx.store.search(query, limit + 1)
    more = len(docs) > limit
    docs = docs[:limit]
    next_cursor = encode_cursor({"s": sort, **search.cursor_of(docs[-1], query)}) if more else None
    return Page(
        items=[CustomerOut.model_validate(domain.public_view(d)) for d in docs], next_cursor=next_cursor
    )


@router.get("/customers/{customer_id}")
async def get_customer(customer_id: str, ctx: Ctx) -> CustomerOut:
    return domain.public_view(await ctx.get(customer_id))


@router.patch("/customers/{customer_id}", responses={409: {"description": "email-taken"}})
async def patch_customer(customer_id: str, body: CustomerPatch, ctx: Ctx) -> CustomerOut:
    changes = body.model_dump(exclude_unset=True)
    for required in ("email", "status"):
        if required in changes and changes[required] is None:
            raise invalid(
                f"{required} cannot be null", errors=[{"field": required, "message": "cannot be null"}]
            )
    return domain.public_view(await ctx.patch(customer_id, changes))


@router.delete("/customers/{customer_id}", status_code=204)
async def delete_customer(customer_id: str, ctx: Ctx) -> Response:
    """Erases the person: every personal datum this service holds goes, and `customer.deleted`
    tells the other services to erase or anonymise their copies."""
    await ctx.erase(customer_id)
    return Response(status_code=204)


@router.post("/customers/{customer_id}/password", responses={403: {"description": "wrong-password"}})
async def set_password(customer_id: str, body: PasswordSet, ctx: Ctx) -> CustomerOut:
    """Sets or changes the password (Argon2id hash; never returned). A guest given a password
    becomes a registered customer. With `current_password`, it must match the one set now."""
    await ctx.get(customer_id)
    if body.current_password is not None:
        current = await ctx.store.password_hash(customer_id)
        if current is None or not await verify_password(
            current["hash"], body.current_password.get_secret_value()
        ):
            raise Problem(403, "wrong-password", "Current password does not match")
    hashed = await hash_password(body.password.get_secret_value())
    return domain.public_view(await ctx.set_password(customer_id, hashed))


@router.get("/customers/{customer_id}/orders")
async def list_orders(
    customer_id: str, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None
) -> Page[dict[str, Any]]:
    """The customer's order history, newest first, with cancellations and refunds applied."""
    await ctx.get(customer_id)
    raw = decode_cursor(cursor)
    try:
        after = (datetime.fromisoformat(raw["at"]), str(raw["id"])) if raw else None
    except (KeyError, ValueError, TypeError):
        raise bad_cursor() from None
    views = await ctx.store.orders_page(customer_id, limit + 1, after)
    more = len(views) > limit
    views = views[:limit]
    last = views[-1].order if views else None
    next_cursor = (
        encode_cursor({"at": last["placed_at"].isoformat(), "id": last["_id"]}) if more and last else None
    )
    return Page(items=[order_view(v) for v in views], next_cursor=next_cursor)
