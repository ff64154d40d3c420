"""HTTP API of what hangs off a customer: addresses, notes, history and the privacy export."""

from datetime import datetime
from typing import Annotated, Any
from uuid import uuid4

from fastapi import APIRouter, Depends, Response

from crm_contracts.types import utcnow
from crm_customers import addresses, domain
from crm_customers.models import AddressCreate, AddressOut, AddressPatch, NoteCreate
from crm_customers.operations import Customers, ms
from crm_customers.stats import order_view
from crm_servicekit.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor
from crm_servicekit.problems import invalid, not_found
from crm_servicekit.service import context

router = APIRouter(tags=["customer records"])
Ctx = Annotated[Customers, Depends(context)]


def _after(cursor: str | None) -> tuple[datetime, str] | None:
    raw = decode_cursor(cursor)
    if raw is None:
        return None
    try:
        return datetime.fromisoformat(raw["at"]), str(raw["id"])
    except (KeyError, ValueError, TypeError):
        raise invalid(
            "cursor is not a cursor this API returned",
            errors=[{"field": "cursor", "message": "invalid cursor"}],
        ) from None


# addresses


@router.get("/customers/{customer_id}/addresses")
async def list_addresses(customer_id: str, ctx: Ctx) -> Page[AddressOut]:
    """At most a few dozen per customer: one page."""
    return Page(
        items=[AddressOut.model_validate(a) for a in (await ctx.get(customer_id)).get("addresses", [])]
    )


@router.post("/customers/{customer_id}/addresses", status_code=201)
async def add_address(customer_id: str, body: AddressCreate, ctx: Ctx) -> AddressOut:
    address = {"id": addresses.new_address_id(), **body.model_dump(), "created_at": ms(utcnow())}
    doc = await ctx.edit_addresses(customer_id, lambda a: addresses.add(a, address))
    return addresses.find(doc["addresses"], address["id"])  # type: ignore[return-value]


@router.patch("/customers/{customer_id}/addresses/{address_id}")
async def edit_address(customer_id: str, address_id: str, body: AddressPatch, ctx: Ctx) -> AddressOut:
    changes = body.model_dump(exclude_unset=True)
    for required in ("type", "line1", "city", "country_code", "is_default"):
        if required in changes and changes[required] is None:
            raise invalid(
                f"{required} cannot be null", errors=[{"field": required, "message": "cannot be null"}]
            )
    if addresses.find((await ctx.get(customer_id)).get("addresses", []), address_id) is None:
        raise not_found("Address", address_id)

    def edit(current: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if addresses.find(current, address_id) is None:
            raise not_found("Address", address_id)
        return addresses.edit(current, address_id, changes)

    doc = await ctx.edit_addresses(customer_id, edit)
    return addresses.find(doc["addresses"], address_id)  # type: ignore[return-value]


@router.delete("/customers/{customer_id}/addresses/{address_id}", status_code=204)
async def delete_address(customer_id: str, address_id: str, ctx: Ctx) -> Response:
    if addresses.find((await ctx.get(customer_id)).get("addresses", []), address_id) is None:
        raise not_found("Address", address_id)
    await ctx.edit_addresses(customer_id, lambda a: addresses.remove(a, address_id))
    return Response(status_code=204)


# notes: private, timestamped; not part of the customer's versioned state nor of its events


def _note_view(n: dict[str, Any]) -> dict[str, Any]:
    return {"id": n["_id"], **{k: n.get(k) for k in ("customer_id", "body", "author", "created_at")}}


@router.post("/customers/{customer_id}/notes", status_code=201)
async def add_note(customer_id: str, body: NoteCreate, ctx: Ctx) -> dict[str, Any]:
    await ctx.get(customer_id)
    note = {
        "_id": f"note_{uuid4().hex}",
        "customer_id": customer_id,
        "body": body.body,
        "author": body.author,
        "created_at": ms(utcnow()),
    }
    await ctx.store.add_note(note)
    return _note_view(note)


@router.get("/customers/{customer_id}/notes")
async def list_notes(
    customer_id: str, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None
) -> Page[dict[str, Any]]:
    await ctx.get(customer_id)
    notes = await ctx.store.notes_page(customer_id, limit + 1, _after(cursor))
    more = len(notes) > limit
    notes = notes[:limit]
    next_cursor = (
        encode_cursor({"at": notes[-1]["created_at"].isoformat(), "id": notes[-1]["_id"]}) if more else None
    )
    return Page(items=[_note_view(n) for n in notes], next_cursor=next_cursor)


@router.delete("/customers/{customer_id}/notes/{note_id}", status_code=204)
async def delete_note(customer_id: str, note_id: str, ctx: Ctx) -> Response:
    if not await ctx.store.delete_note(customer_id, note_id):
        raise not_found("Note", note_id)
    return Response(status_code=204)


# history and export


async def _history(
    ctx: Customers, customer_id: str, limit: int, before: datetime | None
) -> list[dict[str, Any]]:
    """Newest first: the customer's recorded changes, its orders (with their cancellations and
    refunds) and notes, merged by time."""
    items: list[dict[str, Any]] = []
    for c in await ctx.store.changes_page(customer_id, limit, before):
        kinds = [e["type"] for e in c.get("outbox", [])] or ["customer.changed"]
        items.append({"at": c["recorded_at"], "kind": kinds[0], "version": c["version"], "id": c["_id"]})
    for v in await ctx.store.orders_page(customer_id, limit, (before, "\uffff") if before else None):
        o = v.order
        items.append(
            {
                "at": o["placed_at"],
                "kind": "order.placed",
                "id": o["_id"],
                "order_id": o["order_id"],
                "total": o["total"],
                "currency": o["currency"],
                "status": v.status,
            }
        )
        if v.cancelled_at is not None:
            items.append(
                {
                    "at": v.cancelled_at,
                    "kind": "order.cancelled",
                    "id": f"{o['_id']}|cancelled",
                    "order_id": o["order_id"],
                }
            )
    for n in await ctx.store.notes_page(customer_id, limit, (before, "\uffff") if before else None):
        items.append(
            {
                "at": n["created_at"],
                "kind": "note",
                "id": n["_id"],
                "body": n["body"],
                "author": n.get("author"),
            }
        )
    if before is not None:
        items = [i for i in items if i["at"] <= before]
    items.sort(key=lambda i: (i["at"], i["id"]), reverse=True)
    return items


@router.get("/customers/{customer_id}/history")
async def history(
    customer_id: str, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None
) -> Page[dict[str, Any]]:
    """The customer's timeline. The cursor is a point in time; a page ends after every event
    of its last instant, so none is skipped."""
    await ctx.get(customer_id)
    after = _after(cursor)
    items = await _history(ctx, customer_id, limit + 1, after[0] if after else None)
    if after:
        items = [i for i in items if (i["at"], i["id"]) < after]
    if len(items) <= limit:
        return Page(items=items)
    last = items[limit - 1]
    return Page(
        items=items[:limit], next_cursor=encode_cursor({"at": last["at"].isoformat(), "id": last["id"]})
    )


def _consent_record(c: dict[str, Any] | None) -> dict[str, Any] | None:
    """Consent stated for the e-mail before it was a customer (a suppression record)."""
    return {k: c.get(k) for k in ("state", "at", "source")} if c else None


@router.get("/customers/{customer_id}/export")
async def export(customer_id: str, ctx: Ctx) -> dict[str, Any]:
    """Everything this service holds about the person, as one document (right of access)."""
    doc = await ctx.get(customer_id)
    views = await ctx.store.order_views(customer_id)
    views.sort(key=lambda v: (v.order["placed_at"], v.order["_id"]))
    notes = await ctx.store.notes_page(customer_id, 100_000)
    credentials = await ctx.store.password_hash(customer_id)
    changes = await ctx.store.changes_page(customer_id, 100_000)
    return {
        "exported_at": utcnow(),
        "customer": domain.public_view(doc),
        "orders": [order_view(v) for v in views],
        "notes": [_note_view(n) for n in reversed(notes)],
        "group_ids": await ctx.store.group_ids_of(customer_id),
        "consent_record": _consent_record(await ctx.store.consent_for(doc["email_key"])),
        "password": {
            "set": credentials is not None,
            "updated_at": credentials["updated_at"] if credentials else None,
        },
        "versions": [
            {
                "version": c["version"],
                "recorded_at": c["recorded_at"],
                "events": [e["type"] for e in c.get("outbox", [])],
            }
            for c in reversed(changes)
        ],
    }
