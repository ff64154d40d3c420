"""HTTP API of the customers (under /v1; bearer auth and problem+json come from the service
kit): create or register, search, read, edit, erase, password, orders; and what hangs off a
customer: addresses, notes, history and the privacy export."""

from datetime import datetime
from typing import Annotated, cast

from fastapi import APIRouter, Query, Response

from crm_contracts.types import utcnow
from crm_customers.context import Ctx
from crm_customers.domain import search
from crm_customers.domain.customer import public_view
from crm_customers.domain.documents import AddressChanges, NewAddress, ProfileChanges, Status
from crm_customers.domain.timeline import HistoryItem
from crm_customers.schemas import (
    AddressCreate,
    AddressOut,
    AddressPatch,
    ConsentRecord,
    CustomerCreate,
    CustomerExport,
    CustomerOut,
    CustomerPatch,
    NoteCreate,
    NoteOut,
    OrderOut,
    PasswordSet,
    PasswordState,
    VersionOut,
)
from crm_servicekit.pagination import BadCursor, Cursor, Limit, Page, decode_cursor, encode_cursor

router = APIRouter(tags=["customers"])
records = APIRouter(tags=["customer records"])  # what hangs off a customer

_FIELDS = {"first_name", "last_name", "phone", "company", "gender", "birthday", "tags", "metadata", "status"}


def _after(cursor: str | None) -> tuple[datetime, str] | None:
    """The (time, id) a page of orders, notes or history starts after."""
    raw = decode_cursor(cursor, "at", "id")
    if raw is None:
        return None
    try:
        return datetime.fromisoformat(raw["at"]), str(raw["id"])
    except (ValueError, TypeError):
        raise BadCursor() from None


def _cursor(at: datetime, id_: str) -> str:
    return encode_cursor({"at": at.isoformat(), "id": id_})


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
    given = cast(ProfileChanges, body.model_dump(include=_FIELDS, exclude_unset=True))
    if body.email_subscribed is not None:
        given["email_subscribed"] = body.email_subscribed
    password = body.password.get_secret_value() if body.password else None
    doc, created = await ctx.customers.register(body.email, body.has_account, given, password)
    if not created:
        response.status_code = 200
    return CustomerOut.of(doc)


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
        raise BadCursor()
    try:
        after = search.decode_after(raw, sort)
    except (ValueError, TypeError):
        raise BadCursor() from None
    query = search.build(
        q=q, has_account=has_account, group_id=group_id, tag=tag, status=status, sort=sort, after=after
    )
    docs = await ctx.store.search(query, limit + 1)
    more = len(docs) > limit
    docs = docs[:limit]
    next_cursor = encode_cursor({"s": sort, **search.cursor_of(docs[-1], query)}) if more else None
    return Page(items=[CustomerOut.of(d) for d in docs], next_cursor=next_cursor)


@router.get("/customers/{customer_id}")
async def get_customer(customer_id: str, ctx: Ctx) -> CustomerOut:
    return CustomerOut.of(await ctx.customers.get(customer_id))


@router.patch("/customers/{customer_id}", responses={409: {"description": "email-taken"}})
async def patch_customer(customer_id: str, body: CustomerPatch, ctx: Ctx) -> CustomerOut:
    changes = cast(ProfileChanges, body.model_dump(exclude_unset=True))
    return CustomerOut.of(await ctx.customers.edit(customer_id, changes))


@router.delete("/customers/{customer_id}", status_code=204)
async def delete_customer(customer_id: str, ctx: Ctx) -> Response:
    """Erases the person: every personal datum this service holds goes, and `customer.deleted`
    tells the other services to erase or anonymise their copies."""
    await ctx.customers.erase(customer_id)
    return Response(status_code=204)


@router.post("/customers/{customer_id}/password", responses={403: {"description": "wrong-password"}})
async def set_password(customer_id: str, body: PasswordSet, ctx: Ctx) -> CustomerOut:
    """Sets or changes the password (Argon2id hash; never returned). A guest given a password
    becomes a registered customer. With `current_password`, it must match the one set now."""
    current = body.current_password.get_secret_value() if body.current_password is not None else None
    doc = await ctx.customers.set_password(customer_id, body.password.get_secret_value(), current)
    return CustomerOut.of(doc)


@router.get("/customers/{customer_id}/orders")
async def list_orders(customer_id: str, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None) -> Page[OrderOut]:
    """The customer's order history, newest first, with cancellations and refunds applied."""
    await ctx.customers.get(customer_id)
    views = await ctx.store.orders_page(customer_id, limit + 1, _after(cursor))
    more = len(views) > limit
    views = views[:limit]
    last = views[-1].order if views else None
    next_cursor = _cursor(last["placed_at"], last["_id"]) if more and last else None
    return Page(items=[OrderOut.of(v) for v in views], next_cursor=next_cursor)


# addresses


@records.get("/customers/{customer_id}/addresses")
async def list_addresses(customer_id: str, ctx: Ctx) -> Page[AddressOut]:
    """At most a few dozen per customer: one page."""
    doc = await ctx.customers.get(customer_id)
    return Page(items=[AddressOut.model_validate(a) for a in doc["addresses"]])


@records.post("/customers/{customer_id}/addresses", status_code=201)
async def add_address(customer_id: str, body: AddressCreate, ctx: Ctx) -> AddressOut:
    address = await ctx.customers.add_address(customer_id, cast(NewAddress, body.model_dump()))
    return AddressOut.model_validate(address)


@records.patch("/customers/{customer_id}/addresses/{address_id}")
async def edit_address(customer_id: str, address_id: str, body: AddressPatch, ctx: Ctx) -> AddressOut:
    changes = cast(AddressChanges, body.model_dump(exclude_unset=True))
    return AddressOut.model_validate(await ctx.customers.edit_address(customer_id, address_id, changes))


@records.delete("/customers/{customer_id}/addresses/{address_id}", status_code=204)
async def delete_address(customer_id: str, address_id: str, ctx: Ctx) -> Response:
    await ctx.customers.remove_address(customer_id, address_id)
    return Response(status_code=204)


# notes: private, timestamped; not part of the customer's versioned state nor of its events


@records.post("/customers/{customer_id}/notes", status_code=201)
async def add_note(customer_id: str, body: NoteCreate, ctx: Ctx) -> NoteOut:
    return NoteOut.of(await ctx.customers.add_note(customer_id, body.body, body.author))


@records.get("/customers/{customer_id}/notes")
async def list_notes(customer_id: str, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None) -> Page[NoteOut]:
    await ctx.customers.get(customer_id)
    notes = await ctx.store.notes_page(customer_id, limit + 1, _after(cursor))
    more = len(notes) > limit
    notes = notes[:limit]
    next_cursor = _cursor(notes[-1]["created_at"], notes[-1]["_id"]) if more else None
    return Page(items=[NoteOut.of(n) for n in notes], next_cursor=next_cursor)


@records.delete("/customers/{customer_id}/notes/{note_id}", status_code=204)
async def delete_note(customer_id: str, note_id: str, ctx: Ctx) -> Response:
    await ctx.customers.delete_note(customer_id, note_id)
    return Response(status_code=204)


# history and export


@records.get("/customers/{customer_id}/history")
async def history(customer_id: str, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None) -> Page[HistoryItem]:
    """The customer's timeline. The cursor is a point in time; a page ends after every event
    of its last instant, so none is skipped."""
    await ctx.customers.get(customer_id)
    items = await ctx.customers.history(customer_id, limit + 1, _after(cursor))
    if len(items) <= limit:
        return Page(items=items)
    last = items[limit - 1]
    return Page(items=items[:limit], next_cursor=_cursor(last["at"], last["id"]))


@records.get("/customers/{customer_id}/export")
async def export(customer_id: str, ctx: Ctx) -> CustomerExport:
    """Everything this service holds about the person, as one document (right of access)."""
    e = await ctx.customers.export(customer_id)
    c = e.consent_record
    return CustomerExport(
        exported_at=utcnow(),
        customer=dict(public_view(e.customer)),
        orders=[OrderOut.of(v) for v in e.orders],
        notes=[NoteOut.of(n) for n in e.notes],
        group_ids=e.group_ids,
        consent_record=ConsentRecord(state=c["state"], at=c["at"], source=c["source"]) if c else None,
        password=PasswordState(
            set=e.credentials is not None, updated_at=e.credentials["updated_at"] if e.credentials else None
        ),
        versions=[
            VersionOut(
                version=ch["version"],
                recorded_at=ch["recorded_at"],
                events=[ev["type"] for ev in ch.get("outbox", [])],
            )
            for ch in e.changes
        ],
    )
