"""HTTP API of the ledger (under /v1): accounts, entries, holds, rewards and coupons."""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import uuid4

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from crm_contracts.types import CurrencyCode, UtcDatetime, utcnow
from crm_ledger import rewards
from crm_ledger.domain import ENTRY_KINDS, HoldNotActive, InsufficientFunds
from crm_ledger.handlers import Context
from crm_ledger.operations import UnknownHold, derived_id
from crm_ledger.store import Contention
from crm_servicekit.idempotency import fingerprint
from crm_servicekit.pagination import Cursor, Limit, decode_cursor, encode_cursor
from crm_servicekit.problems import Problem, conflict, invalid, not_found
from crm_servicekit.service import context

router = APIRouter()
Ctx = Annotated[Context, Depends(context)]
CustomerId = Annotated[str, Field(min_length=1, max_length=100)]
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255, min_length=1)]
MAX_AMOUNT = 10**13


class NewEntry(BaseModel):
    """funding / reward credit, unfunding debits; adjustment is signed (a correction)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["funding", "unfunding", "reward", "adjustment"]
    amount: int = Field(
        description="Minor units; > 0, or non-zero signed for adjustment", ge=-MAX_AMOUNT, le=MAX_AMOUNT
    )
    currency: CurrencyCode
    reason: str | None = Field(default=None, max_length=500)
    operator: str | None = Field(default=None, max_length=200, description="Who made it")
    order_id: str | None = Field(default=None, max_length=100)
    expires_at: UtcDatetime | None = Field(
        default=None, description="Credits only: when what is left expires"
    )

    @model_validator(mode="after")
    def _check(self) -> "NewEntry":
        if self.kind == "adjustment":
            if self.amount == 0:
                raise ValueError("amount of an adjustment must not be 0")
        elif self.amount <= 0:
            raise ValueError("amount must be greater than 0")
        credit = self.kind in ("funding", "reward") or (self.kind == "adjustment" and self.amount > 0)
        if self.expires_at is not None:
            if not credit:
                raise ValueError("expires_at is only for credits")
            if self.expires_at <= utcnow():
                raise ValueError("expires_at must be in the future")
        return self


class NewHold(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: int = Field(gt=0, le=MAX_AMOUNT)
    currency: CurrencyCode
    expires_at: UtcDatetime | None = Field(default=None, description="Default: the configured hold lifetime")
    order_id: str | None = Field(default=None, max_length=100)
    reason: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _future(self) -> "NewHold":
        if self.expires_at is not None and self.expires_at <= utcnow():
            raise ValueError("expires_at must be in the future")
        return self


class Capture(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: int | None = Field(default=None, gt=0, le=MAX_AMOUNT, description="Default: the hold's amount")
    order_id: str | None = Field(default=None, max_length=100)


class Redeem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_id: str | None = Field(
        default=None, max_length=100, description="Redeeming again for the same order is the same success"
    )


def entry_view(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": doc["_id"],
        "customer_id": doc["customer_id"],
        "currency": doc["currency"],
        "kind": doc["kind"],
        "amount": doc["amount"],
        "balance_after": doc["balance_after"],
        "available_after": doc["available_after"],
        "sequence": doc["sequence"],
        "reason": doc.get("reason") or doc.get("description"),
        "operator": doc.get("operator"),
        "order_id": doc.get("order_id"),
        "hold_id": doc.get("hold_id"),
        "caused_by": doc.get("caused_by"),
        "expires_at": doc.get("expires_at"),
        "at": doc["at"],
    }


def insufficient(e: InsufficientFunds, currency: str) -> Problem:
    return conflict(
        "insufficient-funds",
        "Insufficient funds",
        f"{e.requested} {currency} requested, {e.available} {currency} available",
        available=e.available,
        requested=e.requested,
        currency=currency,
    )


def busy() -> Problem:
    return Problem(503, "contention", "Too many concurrent changes to this account", "retry shortly")


def _json(status: int, body: Any) -> JSONResponse:
    return JSONResponse(body, status_code=status)


async def _once(
    ctx: Context, request: Request, key: str | None, body: Any, action: Any, subject: str
) -> JSONResponse:
    print_ = fingerprint(request.method, request.url.path, body)
    status, out = await ctx.idempotency.run(key, print_, action, subject=subject)
    return _json(status, out)


# -- accounts and entries ----------------------------------------------------------------
@router.get("/accounts/{customer_id}", tags=["accounts"])
async def get_account(customer_id: str, ctx: Ctx) -> dict[str, Any]:
    """Balances per currency. An account opens on first use; before that the list is empty."""
    now = utcnow()
    balances = []
    for doc in await ctx.ledger.journal.accounts_of(customer_id):
        s = doc["state"]
        balances.append(
            {
                "currency": doc["currency"],
                "balance": s["balance"],
                "available": s["available"],
                "held": s["held"],
                "expiring": [
                    {"amount": x["remaining"], "expires_at": x["expires_at"], "funding_id": x["id"]}
                    for x in s["lots"]
                    if x["expires_at"] > now
                ],
                "updated_at": doc["at"],
            }
        )
    return jsonable_encoder({"customer_id": customer_id, "balances": balances})


@router.get("/accounts/{customer_id}/entries", tags=["accounts"])
async def list_entries(
    customer_id: str,
    ctx: Ctx,
    limit: Limit = 50,
    cursor: Cursor = None,
    kind: Annotated[Literal[ENTRY_KINDS] | None, Query()] = None,  # type: ignore[valid-type]
    currency: Annotated[str | None, Query(pattern=r"^[A-Z]{3}$")] = None,
) -> dict[str, Any]:
    """The account history, newest first."""
    after = decode_cursor(cursor)
    if after is not None:
        try:
            after = {
                "at": datetime.fromisoformat(after["at"]),
                "sequence": int(after["sequence"]),
                "id": str(after["id"]),
            }
        except (KeyError, TypeError, ValueError):
            raise invalid(
                "cursor is not a cursor this API returned",
                errors=[{"field": "cursor", "message": "invalid cursor"}],
            ) from None
    docs = await ctx.ledger.journal.entries(customer_id, limit + 1, after, kind, currency)
    more = len(docs) > limit
    docs = docs[:limit]
    next_cursor = None
    if more:
        last = docs[-1]
        next_cursor = encode_cursor(
            {"at": last["at"].isoformat(), "sequence": last["sequence"], "id": last["_id"]}
        )
    return jsonable_encoder({"items": [entry_view(d) for d in docs], "next_cursor": next_cursor})


@router.get("/accounts/{customer_id}/entries/{entry_id}", tags=["accounts"])
async def get_entry(customer_id: str, entry_id: str, ctx: Ctx) -> dict[str, Any]:
    doc = await ctx.ledger.journal.get(entry_id)
    if doc is None or doc["customer_id"] != customer_id or doc["type"] != "entry":
        raise not_found("Entry", entry_id)
    return jsonable_encoder(entry_view(doc))


@router.post(
    "/accounts/{customer_id}/entries",
    tags=["accounts"],
    status_code=201,
    responses={409: {"description": "insufficient-funds or idempotency-key-reused"}},
)
async def post_entry(
    customer_id: str, body: NewEntry, ctx: Ctx, request: Request, key: IdemKey = None
) -> JSONResponse:
    """Funds or unfunds store credit. With an `Idempotency-Key` the entry is recorded once."""
    record_id = derived_id("ent", "http", customer_id, key) if key else f"ent_{uuid4().hex[:24]}"

    async def action() -> tuple[int, Any]:
        try:
            doc, _ = await ctx.ledger.record(
                customer_id,
                body.currency,
                record_id,
                body.kind,
                body.amount,
                expires_at=body.expires_at,
                reason=body.reason,
                operator=body.operator,
                order_id=body.order_id,
            )
        except InsufficientFunds as e:
            raise insufficient(e, body.currency) from None
        except Contention:
            raise busy() from None
        return 201, jsonable_encoder(entry_view(doc))

    return await _once(ctx, request, key, body.model_dump(mode="json"), action, customer_id)


# -- holds -----------------------------------------------------------------------------------
async def _hold_of(ctx: Context, customer_id: str, hold_id: str) -> dict[str, Any]:
    try:
        hold = await ctx.ledger.hold(hold_id)
    except UnknownHold:
        raise not_found("Hold", hold_id) from None
    if hold["customer_id"] != customer_id:
        raise not_found("Hold", hold_id)
    return hold


def hold_not_active(hold: dict[str, Any]) -> Problem:
    return conflict(
        "hold-not-active",
        "Hold is not active",
        f"hold {hold['id']} is {hold['status']}",
        hold_status=hold["status"],
    )


@router.post("/accounts/{customer_id}/holds", tags=["holds"], status_code=201)
async def place_hold(
    customer_id: str, body: NewHold, ctx: Ctx, request: Request, key: IdemKey = None
) -> JSONResponse:
    """Reserves an amount for a checkout: it no longer counts as available until it is
    captured (a purchase), voided, or expires."""
    hold_id = derived_id("hold", "http", customer_id, key) if key else f"hold_{uuid4().hex[:24]}"

    async def action() -> tuple[int, Any]:
        try:
            hold = await ctx.ledger.place_hold(
                customer_id,
                body.currency,
                hold_id,
                body.amount,
                body.expires_at,
                order_id=body.order_id,
                reason=body.reason,
            )
        except InsufficientFunds as e:
            raise insufficient(e, body.currency) from None
        except Contention:
            raise busy() from None
        return 201, jsonable_encoder(hold)

    return await _once(ctx, request, key, body.model_dump(mode="json"), action, customer_id)


@router.get("/accounts/{customer_id}/holds/{hold_id}", tags=["holds"])
async def get_hold(customer_id: str, hold_id: str, ctx: Ctx) -> dict[str, Any]:
    return jsonable_encoder(await _hold_of(ctx, customer_id, hold_id))


@router.post("/accounts/{customer_id}/holds/{hold_id}/capture", tags=["holds"])
async def capture_hold(
    customer_id: str, hold_id: str, ctx: Ctx, body: Capture | None = None
) -> dict[str, Any]:
    """Becomes a `purchase` entry. Capturing a captured hold again returns the same result."""
    body = body or Capture()
    hold = await _hold_of(ctx, customer_id, hold_id)
    try:
        await ctx.ledger.capture(hold_id, body.amount, order_id=body.order_id)
    except HoldNotActive:
        raise hold_not_active(await ctx.ledger.hold(hold_id)) from None
    except InsufficientFunds as e:
        raise insufficient(e, hold["currency"]) from None
    except Contention:
        raise busy() from None
    return jsonable_encoder(await ctx.ledger.hold(hold_id))


@router.post("/accounts/{customer_id}/holds/{hold_id}/void", tags=["holds"])
async def void_hold(customer_id: str, hold_id: str, ctx: Ctx) -> dict[str, Any]:
    """Releases the hold. Voiding a voided hold again returns the same result."""
    await _hold_of(ctx, customer_id, hold_id)
    try:
        hold = await ctx.ledger.void(hold_id)
    except HoldNotActive:
        hold = await ctx.ledger.hold(hold_id)
        if hold["status"] != "voided":
            raise hold_not_active(hold) from None
    except Contention:
        raise busy() from None
    return jsonable_encoder(hold)


# -- rewards and coupons -----------------------------------------------------------------------
@router.get("/reward-program", tags=["rewards"])
async def reward_program(ctx: Ctx) -> dict[str, Any]:
    return ctx.rewards.program.public()


@router.get("/customers/{customer_id}/rewards", tags=["rewards"])
async def customer_rewards(customer_id: str, ctx: Ctx) -> dict[str, Any]:
    state = await ctx.rewards.store.get(customer_id)
    return {
        "customer_id": customer_id,
        "points": state["points"],
        "earned_total": state["earned_total"],
        "target": ctx.rewards.program.target,
        "coupons_issued": len(state["coupons"]),
    }


@router.get("/customers/{customer_id}/coupons", tags=["rewards"])
async def customer_coupons(
    customer_id: str, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None
) -> dict[str, Any]:
    """Newest first."""
    state = await ctx.rewards.store.get(customer_id)
    start = (decode_cursor(cursor) or {}).get("offset", 0)
    if not isinstance(start, int) or isinstance(start, bool) or start < 0:  # a forged cursor
        raise invalid(
            "cursor is not a cursor this API returned",
            errors=[{"field": "cursor", "message": "invalid cursor"}],
        )
    now = utcnow()
    coupons = list(reversed(state["coupons"]))
    page = coupons[start : start + limit]
    more = start + limit < len(coupons)
    return jsonable_encoder(
        {
            "items": [rewards.coupon_view(c, now) for c in page],
            "next_cursor": encode_cursor({"offset": start + limit}) if more else None,
        }
    )


@router.post(
    "/coupons/{code}/redeem",
    tags=["rewards"],
    responses={409: {"description": "coupon-used or coupon-expired"}},
)
async def redeem_coupon(
    code: str, ctx: Ctx, request: Request, body: Redeem | None = None, key: IdemKey = None
) -> dict[str, Any]:
    """Single use. The same order (or Idempotency-Key) redeeming again gets the same success."""
    body = body or Redeem()
    redemption = f"order:{body.order_id}" if body.order_id else (f"key:{key}" if key else None)
    try:
        return jsonable_encoder(await ctx.rewards.redeem(code, redemption))
    except KeyError:
        raise not_found("Coupon", code) from None
    except rewards.CouponProblem as e:
        raise conflict(e.slug, "Coupon cannot be redeemed", e.detail) from None
