"""HTTP API of the ledger (under /v1): accounts, entries, holds, rewards and coupons. Thin:
parse, call a use case, shape the response (schemas.py); use cases raise the domain errors."""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import uuid4

from fastapi import APIRouter, Header, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from crm_contracts.types import UtcDatetime, utcnow
from crm_ledger.context import Context, Ctx
from crm_ledger.domain import ENTRY_KINDS, derived_id
from crm_ledger.schemas import (
    AccountOut,
    Capture,
    CouponOut,
    CouponPage,
    EntryOut,
    EntryPage,
    HoldOut,
    KpisOut,
    NewEntry,
    NewHold,
    ProgramInEffectOut,
    ProgrammeIn,
    ProgrammeList,
    ProgrammeOut,
    ProgrammePatch,
    Redeem,
    ReferralOut,
    RewardsOut,
    balance_view,
    coupon_view,
    credit_view,
    entry_view,
    program_view,
    programme_view,
    rewards_view,
)
from crm_servicekit import logs
from crm_servicekit.errors import NotFound
from crm_servicekit.idempotency import fingerprint
from crm_servicekit.pagination import BadCursor, Cursor, Limit, decode_cursor, encode_cursor

router = APIRouter()


def _ok(body: Any, status_code: int = 200) -> JSONResponse:
    """The body as built (schemas.*_view), as JSON: each route declares its response model for
    the OpenAPI document; the body is sent as it is, not re-serialized through the model."""
    return JSONResponse(jsonable_encoder(body), status_code=status_code)


IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255, min_length=1)]
_KEYED_409 = (
    "insufficient-funds; idempotency-key-reused (the key was used with another request); "
    "idempotency-key-in-use (its first request is still running)"
)


async def _once(
    ctx: Context,
    request: Request,
    key: str | None,
    body: Any,
    action: Callable[[], Awaitable[tuple[int, Any]]],
    subject: str,
) -> JSONResponse:
    """Runs `action` once per Idempotency-Key. A refusal (a permanent domain error, such as
    insufficient funds) is a result too and is replayed; a transient one releases the key."""
    print_ = fingerprint(request.method, request.url.path, body)
    status, out = await ctx.idempotency.run(key, print_, action, subject=subject)
    return JSONResponse(out, status_code=status)


def _keyed_id(prefix: str, customer_id: str, key: str | None, request: Request, body: Any) -> str:
    """The id of what a keyed request records: the same for a retry (same key and request), so
    a crash between acting and storing the response never records twice; a new one for a key
    used again with another request after it expired."""
    if key is None:
        return f"{prefix}_{uuid4().hex[:24]}"
    print_ = fingerprint(request.method, request.url.path, body.model_dump(mode="json"))
    return derived_id(prefix, "http", customer_id, key, print_)


# -- accounts and entries ----------------------------------------------------------------
@router.get("/accounts/{customer_id}", tags=["accounts"], response_model=AccountOut)
async def get_account(customer_id: str, ctx: Ctx) -> JSONResponse:
    """Balances per currency. An account opens on first use; before that the list is empty.
    `credit` and each balance's `credit_limit`: how far below zero the customer's groups let
    purchases (holds, captures, orders paid with credit) take the balance."""
    now = utcnow()
    line = await ctx.credit.line_of(customer_id)
    limits = line["limits"] if line else {}
    balances = [
        balance_view(doc, now, limits.get(doc["currency"], 0))
        for doc in await ctx.ledger.accounts(customer_id)
    ]
    return _ok({"customer_id": customer_id, "balances": balances, "credit": credit_view(line)})


@router.get("/accounts/{customer_id}/entries", tags=["accounts"], response_model=EntryPage)
async def list_entries(
    customer_id: str,
    ctx: Ctx,
    limit: Limit = 50,
    cursor: Cursor = None,
    kind: Annotated[Literal[ENTRY_KINDS] | None, Query()] = None,  # type: ignore[valid-type]
    currency: Annotated[str | None, Query(pattern=r"^[A-Z]{3}$")] = None,
) -> JSONResponse:
    """The account history, newest first."""
    key = decode_cursor(cursor, "at", "sequence", "id")
    after = None
    if key is not None:
        try:
            after = (datetime.fromisoformat(key["at"]), int(key["sequence"]), str(key["id"]))
        except (TypeError, ValueError):
            raise BadCursor() from None
    docs = await ctx.ledger.entries(customer_id, limit + 1, after, kind, currency)
    more = len(docs) > limit
    docs = docs[:limit]
    next_cursor = None
    if more:
        last = docs[-1]
        next_cursor = encode_cursor(
            {"at": last["at"].isoformat(), "sequence": last["sequence"], "id": last["_id"]}
        )
    return _ok({"items": [entry_view(d) for d in docs], "next_cursor": next_cursor})


@router.get("/accounts/{customer_id}/entries/{entry_id}", tags=["accounts"], response_model=EntryOut)
async def get_entry(customer_id: str, entry_id: str, ctx: Ctx) -> JSONResponse:
    return _ok(entry_view(await ctx.ledger.entry(customer_id, entry_id)))


@router.post(
    "/accounts/{customer_id}/entries",
    tags=["accounts"],
    status_code=201,
    response_model=EntryOut,
    responses={409: {"description": _KEYED_409}},
)
async def post_entry(
    customer_id: str, body: NewEntry, ctx: Ctx, request: Request, key: IdemKey = None
) -> JSONResponse:
    """Funds or unfunds store credit. With an `Idempotency-Key` the entry is recorded once.
    404 for a customer the ledger has not heard of (after a short wait) or that was erased."""
    await ctx.customers.require(customer_id)
    record_id = _keyed_id("ent", customer_id, key, request, body)

    async def action() -> tuple[int, Any]:
        doc, _ = await ctx.ledger.record_entry(
            customer_id,
            body.currency,
            record_id,
            body.kind,
            body.amount,
            expires_at=body.expires_at,
            reason=body.reason,
            operator=body.operator or logs.operator_var.get(),  # the console's signed-in person
            order_id=body.order_id,
        )
        return 201, jsonable_encoder(entry_view(doc))

    return await _once(ctx, request, key, body.model_dump(mode="json"), action, customer_id)


# -- holds -----------------------------------------------------------------------------------
@router.post(
    "/accounts/{customer_id}/holds",
    tags=["holds"],
    status_code=201,
    response_model=HoldOut,
    responses={409: {"description": _KEYED_409}},
)
async def place_hold(
    customer_id: str, body: NewHold, ctx: Ctx, request: Request, key: IdemKey = None
) -> JSONResponse:
    """Reserves an amount for a checkout: it no longer counts as available until it is
    captured (a purchase), voided, or expires. 404 for an unknown or erased customer."""
    await ctx.customers.require(customer_id)
    hold_id = _keyed_id("hold", customer_id, key, request, body)

    async def action() -> tuple[int, Any]:
        hold = await ctx.ledger.place_hold(
            customer_id,
            body.currency,
            hold_id,
            body.amount,
            body.expires_at,
            order_id=body.order_id,
            reason=body.reason,
        )
        return 201, jsonable_encoder(hold)

    return await _once(ctx, request, key, body.model_dump(mode="json"), action, customer_id)


@router.get("/accounts/{customer_id}/holds/{hold_id}", tags=["holds"], response_model=HoldOut)
async def get_hold(customer_id: str, hold_id: str, ctx: Ctx) -> JSONResponse:
    return _ok(await ctx.ledger.hold_of(customer_id, hold_id))


@router.post(
    "/accounts/{customer_id}/holds/{hold_id}/capture",
    tags=["holds"],
    response_model=HoldOut,
    responses={409: {"description": "hold-not-active (voided or expired) or insufficient-funds"}},
)
async def capture_hold(customer_id: str, hold_id: str, ctx: Ctx, body: Capture | None = None) -> JSONResponse:
    """Becomes a `purchase` entry. Capturing a captured hold again returns the same result.
    404 for an erased customer (voiding stays possible: it moves no money)."""
    await ctx.customers.require(customer_id)
    body = body or Capture()
    return _ok(await ctx.ledger.capture_hold(customer_id, hold_id, body.amount, body.order_id))


@router.post(
    "/accounts/{customer_id}/holds/{hold_id}/void",
    tags=["holds"],
    response_model=HoldOut,
    responses={409: {"description": "hold-not-active (captured or expired)"}},
)
async def void_hold(customer_id: str, hold_id: str, ctx: Ctx) -> JSONResponse:
    """Releases the hold. Voiding a voided hold again returns the same result."""
    return _ok(await ctx.ledger.void_hold(customer_id, hold_id))


# -- rewards and coupons -----------------------------------------------------------------------
@router.get(
    "/reward-program",
    tags=["rewards"],
    response_model=ProgramInEffectOut,
    responses={404: {"description": "no programme in effect now"}},
)
async def reward_program(ctx: Ctx) -> JSONResponse:
    """The programme orders placed now earn by (404 when none is in effect)."""
    program = await ctx.rewards.programmes.in_effect_now()
    if program is None:
        raise NotFound("Reward programme", "in effect now")
    return _ok(program_view(program))


@router.get("/reward-programmes", tags=["rewards"], response_model=ProgrammeList)
async def list_reward_programmes(ctx: Ctx) -> JSONResponse:
    """Every programme (its newest version), `default` first: the environment settings until
    it is changed."""
    return _ok({"items": [programme_view(p) for p in await ctx.rewards.programmes.list()]})


@router.post("/reward-programmes", tags=["rewards"], status_code=201, response_model=ProgrammeOut)
async def create_reward_programme(body: ProgrammeIn, ctx: Ctx) -> JSONResponse:
    """A programme, for orders placed from now on (with dates: while it runs). Of the
    programmes running at a time, the one that started last applies."""
    return _ok(programme_view(await ctx.rewards.programmes.create(body.fields())), 201)


@router.get("/reward-programmes/{programme_id}", tags=["rewards"], response_model=ProgrammeOut)
async def get_reward_programme(programme_id: str, ctx: Ctx) -> JSONResponse:
    return _ok(programme_view(await ctx.rewards.programmes.get(programme_id)))


@router.patch("/reward-programmes/{programme_id}", tags=["rewards"], response_model=ProgrammeOut)
async def change_reward_programme(programme_id: str, body: ProgrammePatch, ctx: Ctx) -> JSONResponse:
    """A new version, for orders placed from now on; orders placed before keep the version
    they were placed under (and points already earned stay). End a programme with `ends_at`."""
    return _ok(programme_view(await ctx.rewards.programmes.change(programme_id, body.fields())))


@router.get("/customers/{customer_id}/rewards", tags=["rewards"], response_model=RewardsOut)
async def customer_rewards(customer_id: str, ctx: Ctx) -> JSONResponse:
    state = await ctx.rewards.of(customer_id)
    return _ok(rewards_view(customer_id, state, await ctx.rewards.programmes.in_effect_now()))


@router.get("/loyalty/kpis", tags=["rewards"], response_model=KpisOut)
async def loyalty_kpis(
    ctx: Ctx,
    from_: Annotated[UtcDatetime, Query(alias="from", description="Start of the period (included)")],
    to: Annotated[UtcDatetime, Query(description="End of the period (excluded)")],
) -> JSONResponse:
    """Enrolment rate, points issued, reversed, redeemed (turned into coupons) and expired
    (points never expire), coupons issued and redeemed, redemption rate, referral conversions,
    for the period [from, to)."""
    kpis = await ctx.customers.loyalty_kpis(from_, to)
    return _ok({"from": from_, "to": to, **kpis.to_dict()})


@router.get("/customers/{customer_id}/referral", tags=["rewards"], response_model=ReferralOut)
async def customer_referral(customer_id: str, ctx: Ctx) -> JSONResponse:
    """The code the customer shares (a newcomer's first order naming it as `referral_code`
    rewards both), and how many referred customers converted. 404 for an unknown customer."""
    await ctx.customers.require(customer_id)
    code = await ctx.rewards.referral_code_of(customer_id)
    return _ok(
        {"customer_id": customer_id, "code": code, "conversions": await ctx.rewards.conversions(customer_id)}
    )


@router.get("/customers/{customer_id}/coupons", tags=["rewards"], response_model=CouponPage)
async def customer_coupons(
    customer_id: str, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None
) -> JSONResponse:
    """Newest first."""
    state = await ctx.rewards.of(customer_id)
    start = (decode_cursor(cursor) or {}).get("offset", 0)
    if not isinstance(start, int) or isinstance(start, bool) or start < 0:  # a forged cursor
        raise BadCursor()
    now = utcnow()
    # Coupons that moved to another customer (customer.merged) are listed there, not here.
    coupons = [c for c in reversed(state["coupons"]) if not c.get("moved_to")]
    page = coupons[start : start + limit]
    more = start + limit < len(coupons)
    return _ok(
        {
            "items": [coupon_view(c, now) for c in page],
            "next_cursor": encode_cursor({"offset": start + limit}) if more else None,
        }
    )


@router.post(
    "/coupons/{code}/redeem",
    tags=["rewards"],
    response_model=CouponOut,
    responses={
        404: {"description": "no such coupon of this customer, or the customer unknown or erased"},
        409: {"description": "coupon-used, coupon-revoked or coupon-expired"},
    },
)
async def redeem_coupon(code: str, body: Redeem, ctx: Ctx, key: IdemKey = None) -> JSONResponse:
    """Single use, by the customer it was issued to (another customer's coupon: 404), before it
    expires. The same order (or Idempotency-Key) redeeming again gets the same success."""
    await ctx.customers.require(body.customer_id)
    redemption = f"order:{body.order_id}" if body.order_id else (f"key:{key}" if key else None)
    coupon = await ctx.rewards.redeem(code, body.customer_id, redemption)
    return _ok(coupon_view(coupon, utcnow()))
