"""HTTP API of the customers (under /v1; bearer auth and problem+json come from the service
kit): create or register, search, read, edit, erase, password, orders; and what hangs off a
customer: addresses, notes, history and the privacy export."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, cast

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from crm_contracts.types import utcnow
from crm_customers.context import Ctx
from crm_customers.domain import orders, search, tasks
from crm_customers.domain.customer import public_view
from crm_customers.domain.documents import (
    AddressChanges,
    AgentChanges,
    CustomerMerge,
    NewAddress,
    PersonalDataRequest,
    ProfileChanges,
    Status,
    Task,
    TaskChanges,
    TaskStatus,
)
from crm_customers.domain.privacy import ErasureStatus, ExportProgress
from crm_customers.domain.timeline import HistoryItem
from crm_customers.schemas import (
    CUSTOMER_CSV_COLUMNS,
    ORDER_CSV_COLUMNS,
    AddressCreate,
    AddressOut,
    AddressPatch,
    AgentCreate,
    AgentOut,
    AgentPatch,
    Authenticate,
    BulkTags,
    BulkTagsResult,
    CalendarFeed,
    ConsentRecord,
    CustomerCount,
    CustomerCreate,
    CustomerExport,
    CustomerOut,
    CustomerPatch,
    ErasureConfirmationOut,
    ErasureCreate,
    ErasureRequestOut,
    ExportParts,
    ImportJobOut,
    ImportReport,
    MergeCreate,
    MergeOut,
    MergeResult,
    NoteCreate,
    NoteOut,
    NotePatch,
    OrderOut,
    PasswordSet,
    PasswordState,
    PersonalDataDocumentOut,
    PersonalDataRequestOut,
    ServicePart,
    TagCount,
    TaskCreate,
    TaskOut,
    TaskPatch,
    VerificationPending,
    Verify,
    VersionOut,
    csv_line,
    customer_csv_row,
    order_csv_row,
    parse_import,
)
from crm_customers.service import ErasureView, Export, PendingVerification
from crm_servicekit import logs
from crm_servicekit.errors import DomainError, Invalid, NotFound
from crm_servicekit.pagination import BadCursor, Cursor, Limit, Page, decode_cursor, encode_cursor
from crm_servicekit.problems import MEDIA_TYPE as PROBLEM_MEDIA_TYPE

router = APIRouter(tags=["customers"])
records = APIRouter(tags=["customer records"])  # what hangs off a customer

_FIELDS = {
    "first_name", "last_name", "phone", "company", "gender", "birthday", "tags", "metadata", "status",
    "sales_agent_id",
}  # fmt: skip
EXPORT_PAGE = 500  # customers read per query while a CSV export streams

# Headers that responses below always carry, as the OpenAPI document states them.
LOCATION = {
    "Location": {"description": "Path of what was created", "required": True, "schema": {"type": "string"}}
}
ATTACHMENT = {
    "Content-Disposition": {
        "description": "`attachment` with a file name",
        "required": True,
        "schema": {"type": "string"},
    }
}


def _after(cursor: str | None) -> tuple[datetime, str] | None:
    """The (time, id) a page of orders, notes or history starts after."""
    raw = decode_cursor(cursor, "at", "id")
    if raw is None:
        return None
    try:
        at = datetime.fromisoformat(raw["at"])
    except (ValueError, TypeError):
        raise BadCursor() from None
    if at.tzinfo is None:  # every cursor handed out has one; a naive time cannot be compared
        raise BadCursor()
    return at, str(raw["id"])


def _cursor(at: datetime, id_: str) -> str:
    return encode_cursor({"at": at.isoformat(), "id": id_})


@router.post(
    "/customers",
    status_code=201,
    response_model=CustomerOut,
    responses={
        202: {
            "model": VerificationPending,
            "description": "The e-mail is a guest's: the account waits for the e-mail to be verified",
        },
        409: {"description": "email-taken"},
        422: {
            "description": "validation-error (also: a guest with a password; an inactive or unknown sales agent)"
        },
    },
)
async def create_customer(body: CustomerCreate, ctx: Ctx) -> CustomerOut | JSONResponse:
    """Creates a customer. `has_account` (default true) with an e-mail that a guest has does not
    hand the guest's history over at once: 202, and `customer.verification.requested` carries a
    token for the storefront to e-mail; `POST /v1/customers/verify` with it turns that guest
    into the registered customer (same id, its orders kept). Never a duplicate."""
    given = cast(ProfileChanges, body.model_dump(include=_FIELDS, exclude_unset=True))
    if body.email_subscribed is not None:
        given["email_subscribed"] = body.email_subscribed
    if body.referred_by is not None:
        given["referred_by"] = body.referred_by
    if body.group_ids:
        given["join_group_ids"] = body.group_ids
    password = body.password.get_secret_value() if body.password else None
    notes = [(n.body, n.author or logs.operator_var.get()) for n in body.notes]
    addresses = [cast(NewAddress, a.model_dump()) for a in body.addresses]
    outcome = await ctx.customers.register(body.email, body.has_account, given, password, notes, addresses)
    if isinstance(outcome, PendingVerification):
        pending = VerificationPending(email=outcome.email, expires_at=outcome.expires_at)
        return JSONResponse(pending.model_dump(mode="json"), status_code=202)
    doc, _created = outcome  # always created: an e-mail with a customer is 409 or 202 above
    return CustomerOut.of(doc)


@router.post(
    "/customers/verify",
    responses={
        404: {"description": "not-found: an unknown or already used token"},
        409: {"description": "email-taken: the guest was registered meanwhile"},
        422: {"description": "verification-expired"},
    },
)
async def verify_customer(body: Verify, ctx: Ctx) -> CustomerOut:
    """The token of customer.verification.requested: the guest becomes the registered customer
    with what the registration gave (password, profile), keeping its orders and statistics."""
    return CustomerOut.of(await ctx.customers.verify(body.token))


@router.post(
    "/customers/authenticate",
    responses={
        401: {"description": "invalid-credentials: wrong e-mail or password (never says which)"},
        403: {"description": "account-disabled: the pair is right but the account is inactive"},
    },
)
async def authenticate_customer(body: Authenticate, ctx: Ctx) -> CustomerOut:
    """A storefront's login: the customer with this e-mail and password."""
    return CustomerOut.of(await ctx.customers.authenticate(body.email, body.password.get_secret_value()))


@dataclass(frozen=True)
class CustomerFilters:
    """The filters of the customer list, shared by the list and its CSV export."""

    q: Annotated[
        str | None, Query(max_length=200, description="Prefix of e-mail, first, last or full name")
    ] = None
    has_account: bool | None = None
    group_id: Annotated[str | None, Query(max_length=100)] = None
    tag: Annotated[str | None, Query(max_length=50)] = None
    status: Status | None = None
    sales_agent_id: Annotated[str | None, Query(max_length=100)] = None
    sort: search.Sort = "-created_at"

    def query(self, after: search.After | None) -> search.Query:
        return search.build(
            q=self.q,
            has_account=self.has_account,
            group_id=self.group_id,
            tag=self.tag,
            status=self.status,
            sales_agent_id=self.sales_agent_id,
            sort=self.sort,
            after=after,
        )


Filters = Annotated[CustomerFilters, Depends()]


@router.get("/customers")
async def list_customers(ctx: Ctx, f: Filters, limit: Limit = 50, cursor: Cursor = None) -> Page[CustomerOut]:
    sort = f.sort
    raw = decode_cursor(cursor)
    if raw is not None and raw.get("s") != sort:
        raise BadCursor()
    try:
        after = search.decode_after(raw, sort)
    except (ValueError, TypeError):
        raise BadCursor() from None
    query = f.query(after)
    docs = await ctx.store.search(query, limit + 1)
    more = len(docs) > limit
    docs = docs[:limit]
    next_cursor = encode_cursor({"s": sort, **search.cursor_of(docs[-1], query)}) if more else None
    return Page(items=[CustomerOut.of(d) for d in docs], next_cursor=next_cursor)


@router.get("/customers/count")
async def count_customers(ctx: Ctx, f: Filters) -> CustomerCount:
    """How many customers the list would show with these filters (`sort` changes nothing)."""
    return CustomerCount(count=await ctx.store.count(f.query(None)))


@router.get(
    "/customers.csv",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {}}, "description": "One row per customer", "headers": ATTACHMENT}
    },
)
async def export_customers_csv(ctx: Ctx, f: Filters) -> StreamingResponse:
    """The customer list as filtered and sorted, as CSV (every page, streamed); `total_spent`
    is in CRM_BASE_CURRENCY, tags and group ids are `;`-separated."""
    currency = ctx.settings.base_currency
    first = await ctx.store.search(f.query(None), EXPORT_PAGE)  # bad filters fail before 200

    async def rows() -> AsyncIterator[str]:
        yield csv_line(CUSTOMER_CSV_COLUMNS)
        docs = first
        while docs:
            for d in docs:
                yield csv_line(customer_csv_row(d, currency))
            if len(docs) < EXPORT_PAGE:
                return
            query = f.query(None)
            after = search.decode_after(search.cursor_of(docs[-1], query), f.sort)
            docs = await ctx.store.search(f.query(after), EXPORT_PAGE)

    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="customers.csv"'},
    )


@router.get("/tags")
async def list_tags(ctx: Ctx) -> Page[TagCount]:
    """Every tag in use, with how many customers carry it; most used first."""
    counts = await ctx.store.tag_counts()
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return Page(items=[TagCount(tag=t, customers=n) for t, n in ordered])


@router.post("/customers/tags")
async def bulk_tag(body: BulkTags, ctx: Ctx) -> BulkTagsResult:
    """Adds and removes tags on a selection of customers (up to 1,000 ids)."""
    updated, unchanged, missing = await ctx.customers.retag(body.customer_ids, body.add, body.remove)
    return BulkTagsResult(updated=updated, unchanged=unchanged, not_found=missing)


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


OrderSortParam = Annotated[
    orders.OrderSort,
    Query(description="`placed_at` (date) or `total` (value, minor units); `-` for descending"),
]


@router.get("/customers/{customer_id}/orders")
async def list_orders(
    customer_id: str, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None, sort: OrderSortParam = "-placed_at"
) -> Page[OrderOut]:
    """The customer's order history (newest first unless `sort` says otherwise), with
    cancellations and refunds applied."""
    await ctx.customers.get(customer_id)
    if sort != "-placed_at":
        raw = decode_cursor(cursor, "s", "v", "id")
        if raw is not None and (
            raw["s"] != sort or not isinstance(raw["v"], int) or not isinstance(raw["id"], str)
        ):
            raise BadCursor()
        after = (raw["v"], raw["id"]) if raw is not None else None
        views = orders.sorted_views(await ctx.store.order_views(customer_id), sort, after)
        page = views[:limit]
        more_sorted = len(views) > limit
        next_sorted = encode_cursor(orders.sort_cursor(page[-1], sort)) if more_sorted else None
        return Page(items=[OrderOut.of(v) for v in page], next_cursor=next_sorted)
    views = await ctx.store.orders_page(customer_id, limit + 1, _after(cursor))
    more = len(views) > limit
    views = views[:limit]
    last = views[-1].order if views else None
    next_cursor = _cursor(last["placed_at"], last["_id"]) if more and last else None
    return Page(items=[OrderOut.of(v) for v in views], next_cursor=next_cursor)


@router.get(
    "/customers/{customer_id}/orders.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "One row per order", "headers": ATTACHMENT}},
)
async def export_orders_csv(customer_id: str, ctx: Ctx, sort: OrderSortParam = "-placed_at") -> Response:
    """Every order of the customer as CSV, in `sort` order, cancellations and refunds applied."""
    await ctx.customers.get(customer_id)
    views = orders.sorted_views(await ctx.store.order_views(customer_id), sort)
    body = csv_line(ORDER_CSV_COLUMNS) + "".join(csv_line(order_csv_row(v)) for v in views)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="orders-{customer_id}.csv"'},
    )


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
    # without an author, the person a trusted client (the console) names as its operator
    author = body.author or logs.operator_var.get()
    return NoteOut.of(await ctx.customers.add_note(customer_id, body.body, author))


@records.get("/customers/{customer_id}/notes")
async def list_notes(customer_id: str, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None) -> Page[NoteOut]:
    await ctx.customers.get(customer_id)
    notes = await ctx.store.notes_page(customer_id, limit + 1, _after(cursor))
    more = len(notes) > limit
    notes = notes[:limit]
    next_cursor = _cursor(notes[-1]["created_at"], notes[-1]["_id"]) if more else None
    return Page(items=[NoteOut.of(n) for n in notes], next_cursor=next_cursor)


@records.patch("/customers/{customer_id}/notes/{note_id}")
async def edit_note(customer_id: str, note_id: str, body: NotePatch, ctx: Ctx) -> NoteOut:
    """A new body; `edited_at` and `edited_by` record the edit."""
    return NoteOut.of(await ctx.customers.edit_note(customer_id, note_id, body.body, body.edited_by))


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
    return _export_document(await ctx.customers.export(customer_id))


def _export_document(e: Export) -> CustomerExport:
    c = e.consent_record
    now = utcnow()
    return CustomerExport(
        exported_at=now,
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
        tasks=[TaskOut.of(t, now) for t in e.tasks],
    )


# sales agents

agents_router = APIRouter(tags=["agents"])


@agents_router.post("/agents", status_code=201, responses={409: {"description": "agent-email-taken"}})
async def create_agent(body: AgentCreate, ctx: Ctx) -> AgentOut:
    return AgentOut.of(await ctx.agents.create(body.name, body.email, body.active))


@agents_router.get("/agents")
async def list_agents(
    ctx: Ctx, limit: Limit = 50, cursor: Cursor = None, active: bool | None = None
) -> Page[AgentOut]:
    """Agents by name."""
    raw = decode_cursor(cursor, "name", "id")
    if raw is not None and not (isinstance(raw["name"], str) and isinstance(raw["id"], str)):
        raise BadCursor()
    after = (raw["name"], raw["id"]) if raw else None
    found = await ctx.store.agents_page(limit + 1, after, active)
    more = len(found) > limit
    found = found[:limit]
    next_cursor = encode_cursor({"name": found[-1]["name"], "id": found[-1]["_id"]}) if more else None
    return Page(items=[AgentOut.of(a) for a in found], next_cursor=next_cursor)


@agents_router.get("/agents/{agent_id}")
async def get_agent(agent_id: str, ctx: Ctx) -> AgentOut:
    return AgentOut.of(await ctx.agents.get(agent_id))


@agents_router.patch("/agents/{agent_id}", responses={409: {"description": "agent-email-taken"}})
async def patch_agent(agent_id: str, body: AgentPatch, ctx: Ctx) -> AgentOut:
    """`active: false` keeps the agent on its customers and tasks but no new ones can be given
    to it, and its calendar feed stops answering."""
    for required in ("name", "email", "active"):
        if required in body.model_fields_set and getattr(body, required) is None:
            raise Invalid(
                f"{required} cannot be null", errors=[{"field": required, "message": "cannot be null"}]
            )
    changes = cast(AgentChanges, body.model_dump(exclude_unset=True))
    return AgentOut.of(await ctx.agents.edit(agent_id, changes))


@agents_router.delete("/agents/{agent_id}", status_code=204, responses={409: {"description": "agent-in-use"}})
async def delete_agent(agent_id: str, ctx: Ctx) -> Response:
    """Only an agent with no customers and no open tasks; deactivate the others."""
    await ctx.agents.delete(agent_id)
    return Response(status_code=204)


@agents_router.post("/agents/{agent_id}/calendar-token")
async def new_calendar_token(agent_id: str, ctx: Ctx) -> CalendarFeed:
    """A new secret URL for the agent's task calendar (RFC 5545), for calendar apps to
    subscribe to; shown once. The previous URL stops working."""
    agent, token = await ctx.agents.new_calendar_token(agent_id)
    path = calendar_path(agent["_id"], token)
    base = ctx.settings.public_url
    return CalendarFeed(path=path, url=base.rstrip("/") + path if base else None, token=token)


@agents_router.delete("/agents/{agent_id}/calendar-token", status_code=204)
async def revoke_calendar_token(agent_id: str, ctx: Ctx) -> Response:
    """The agent's calendar URL stops working."""
    await ctx.agents.revoke_calendar_token(agent_id)
    return Response(status_code=204)


# tasks

tasks_router = APIRouter(tags=["tasks"])


def _task_page(found: list[Task], limit: int) -> Page[TaskOut]:
    now = utcnow()
    more = len(found) > limit
    found = found[:limit]
    next_cursor = _cursor(found[-1]["due_at"], found[-1]["_id"]) if more else None
    return Page(items=[TaskOut.of(t, now) for t in found], next_cursor=next_cursor)


@tasks_router.post("/customers/{customer_id}/tasks", status_code=201)
async def create_task(customer_id: str, body: TaskCreate, ctx: Ctx) -> TaskOut:
    task = await ctx.tasks.create(
        customer_id, title=body.title, notes=body.notes, due_at=body.due_at, assignee_id=body.assignee_id
    )
    return TaskOut.of(task, utcnow())


@tasks_router.get("/customers/{customer_id}/tasks")
async def list_customer_tasks(
    customer_id: str, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None, status: TaskStatus | None = None
) -> Page[TaskOut]:
    """The customer's tasks, soonest due first."""
    await ctx.customers.get(customer_id)
    query = tasks.query(customer_id=customer_id, status=status, after=_after(cursor))
    return _task_page(await ctx.store.tasks_page(query, limit + 1), limit)


@tasks_router.get("/tasks")
async def list_tasks(
    ctx: Ctx,
    limit: Limit = 50,
    cursor: Cursor = None,
    assignee_id: Annotated[str | None, Query(max_length=100, description="An agent's tasks")] = None,
    status: TaskStatus | None = None,
    overdue: Annotated[bool, Query(description="Only open tasks due before now")] = False,
) -> Page[TaskOut]:
    """Tasks soonest due first: an agent's ("my tasks") with `assignee_id`, the overdue ones
    with `overdue=true`."""
    query = tasks.query(
        assignee_id=assignee_id, status=status, overdue_at=utcnow() if overdue else None, after=_after(cursor)
    )
    return _task_page(await ctx.store.tasks_page(query, limit + 1), limit)


@tasks_router.get("/tasks/{task_id}")
async def get_task(task_id: str, ctx: Ctx) -> TaskOut:
    return TaskOut.of(await ctx.tasks.get(task_id), utcnow())


@tasks_router.patch("/tasks/{task_id}")
async def patch_task(task_id: str, body: TaskPatch, ctx: Ctx) -> TaskOut:
    """Only the fields given change; `status: done` records `completed_at`, `open` clears it."""
    changes = cast(TaskChanges, body.model_dump(exclude_unset=True))
    return TaskOut.of(await ctx.tasks.edit(task_id, changes), utcnow())


@tasks_router.delete("/tasks/{task_id}", status_code=204)
async def delete_task(task_id: str, ctx: Ctx) -> Response:
    await ctx.tasks.delete(task_id)
    return Response(status_code=204)


# the calendar feed: outside /v1 and its bearer token (calendar apps cannot send one); the
# secret in the URL is the credential

calendar = APIRouter(tags=["calendar"])
_PROBLEM = {"content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}}


def calendar_path(agent_id: str, token: str) -> str:
    return f"/calendar/agents/{agent_id}/{token}.ics"


@calendar.get(
    "/calendar/agents/{agent_id}/{token}.ics",
    response_class=Response,
    responses={
        200: {"content": {"text/calendar": {}}, "description": "RFC 5545 calendar of the agent's tasks"},
        # Outside /v1, so servicekit documents nothing here: its errors, as the problems they are.
        404: {"description": "No such feed (wrong agent or secret, revoked, or inactive agent)", **_PROBLEM},
        422: {"description": "validation-error: an agent id or secret too long, or with NUL", **_PROBLEM},
        503: {"description": "Unavailable for now: retry after `Retry-After` seconds", **_PROBLEM},
    },
)
async def agent_calendar(
    agent_id: Annotated[str, Path(max_length=100)], token: Annotated[str, Path(max_length=200)], ctx: Ctx
) -> Response:
    agent = await ctx.agents.feed_owner(agent_id, token)
    if agent is None:
        raise NotFound("Calendar", agent_id)
    return Response(
        await ctx.tasks.feed(agent),
        media_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": "private, max-age=300", "Referrer-Policy": "no-referrer"},
    )


# CSV import

imports_router = APIRouter(tags=["imports"])
MAX_IMPORT_BYTES = 64 * 1024 * 1024


@imports_router.post(
    "/customer-imports",
    status_code=202,
    response_model=ImportJobOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {
                    "schema": {"type": "string", "description": "Header line, then one customer per line"}
                }
            },
        }
    },
    responses={
        200: {"model": ImportReport, "description": "Dry run: what is wrong, nothing changed"},
        202: {"description": "The import runs: `GET` the `Location` for its counts", "headers": LOCATION},
        413: {"description": "too-large: over 64 MB"},
        422: {"description": "validation-error: not UTF-8, no rows, or bad rows (`errors`, with `line`)"},
    },
)
async def import_customers(
    request: Request,
    ctx: Ctx,
    response: Response,
    dry_run: Annotated[
        bool, Query(description="Only check the file: report every bad row, change nothing")
    ] = False,
) -> ImportJobOut | JSONResponse:
    """Imports customers from CSV (columns in `IMPORT_COLUMNS`, see the README): with
    `dry_run=true` every bad row is reported with its line and reason and nothing changes;
    otherwise a file with any bad row is refused whole (422, the same list), and a good one
    starts a job (202) whose counts `GET /v1/customer-imports/{id}` shows. Idempotent by
    e-mail: a row whose e-mail already has a customer changes nothing."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_IMPORT_BYTES:
        raise TooLarge()
    raw = await request.body()
    if len(raw) > MAX_IMPORT_BYTES:
        raise TooLarge()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid("the file is not UTF-8", errors=[{"field": "body", "message": "not UTF-8"}]) from None
    rows, problems = await asyncio.to_thread(parse_import, text)  # seconds for 100,000 rows: off the loop
    problems = sorted([*problems, *await ctx.imports.check(rows)], key=lambda p: p["line"])
    valid = len(rows) - len({p["line"] for p in problems if p["line"] in {r["line"] for r in rows}})
    if dry_run:
        total = valid + len({p["line"] for p in problems if p["line"] > 1})
        report = ImportReport(dry_run=True, rows=total, valid=valid, problems=[dict(p) for p in problems])
        return JSONResponse(report.model_dump(mode="json"), status_code=200)
    if problems:
        raise Invalid(
            f"{len(problems)} problem(s) in the file; nothing was imported",
            errors=[
                {"field": p["field"] or "row", "message": p["message"], "line": p["line"]}
                for p in problems[:1000]
            ],
        )
    if not rows:
        raise Invalid("the file has no customers", errors=[{"field": "body", "message": "no rows"}])
    job = await ctx.imports.start(rows)
    response.headers["Location"] = f"/v1/customer-imports/{job['_id']}"
    return ImportJobOut.of(job)


@imports_router.get("/customer-imports/{import_id}")
async def get_import(import_id: str, ctx: Ctx) -> ImportJobOut:
    """An import's progress: rows processed, created, existing (left unchanged), failed."""
    return ImportJobOut.of(await ctx.imports.get(import_id))


class TooLarge(DomainError):
    status = 413
    default_slug = "too-large"
    default_title = "File too large"


# personal data across services (GDPR): exports every service answers, scheduled erasure

privacy_router = APIRouter(tags=["personal data"])


def _request_out(request: PersonalDataRequest, p: ExportProgress) -> PersonalDataRequestOut:
    return PersonalDataRequestOut(
        id=request["_id"],
        customer_id=request["customer_id"],
        status=p.status,
        requested_at=request["requested_at"],
        requested_by=request["requested_by"],
        completed_at=p.completed_at,
        expected=request["expected"],
        parts=ExportParts(answered=p.answered, awaited=p.awaited),
    )


@privacy_router.post(
    "/customers/{customer_id}/personal-data-requests",
    status_code=202,
    responses={202: {"description": "Asked: the document fills in as services answer", "headers": LOCATION}},
)
async def request_personal_data(customer_id: str, ctx: Ctx, response: Response) -> PersonalDataRequestOut:
    """Asks every service for what it holds about the person (personal_data.requested); the
    document fills in as they answer (personal_data.collected)."""
    request = await ctx.personal_data.request(customer_id)
    response.headers["Location"] = f"/v1/personal-data-requests/{request['_id']}"
    return _request_out(request, await ctx.personal_data.progress(request))


@privacy_router.get("/personal-data-requests/{request_id}")
async def personal_data_document(request_id: str, ctx: Ctx) -> PersonalDataDocumentOut:
    """The one document: this service's part and every other service's part received so far."""
    d = await ctx.personal_data.document(request_id)
    out = _request_out(d.request, d.progress)
    return PersonalDataDocumentOut(
        **out.model_dump(),
        customers=_export_document(d.own) if d.own else None,
        services={
            p["service"]: ServicePart(
                collected_at=p["collected_at"], received_at=p["received_at"], data=p["data"]
            )
            for p in sorted(d.parts, key=lambda p: p["service"])
        },
    )


def _erasure_out(v: ErasureView, expected: list[str]) -> ErasureRequestOut:
    r, o = v.request, v.outcome
    cancelled = o if o is not None and o["outcome"] == "cancelled" else None
    confirmed = {c["service"] for c in v.confirmations}
    return ErasureRequestOut(
        id=r["_id"],
        customer_id=r["customer_id"],
        status=v.status,
        requested_at=r["requested_at"],
        requested_by=r["requested_by"],
        grace_days=r["grace_days"],
        due_at=r["due_at"],
        cancelled_at=cancelled["at"] if cancelled else None,
        cancelled_by=cancelled["by"] if cancelled else None,
        carried_out_at=v.done["at"] if v.done else None,
        confirmations=[
            ErasureConfirmationOut(service=c["service"], erased=c["erased"], at=c["at"])
            for c in sorted(v.confirmations, key=lambda c: c["service"])
        ],
        awaiting_confirmation=[s for s in expected if s not in confirmed]
        if v.status == "carried_out"
        else [],
    )


@privacy_router.post(
    "/customers/{customer_id}/erasure-requests",
    status_code=202,
    responses={
        202: {"description": "Scheduled", "headers": LOCATION},
        409: {"description": "erasure-pending: the customer has an open erasure request"},
    },
)
async def request_erasure(
    customer_id: str, ctx: Ctx, response: Response, body: ErasureCreate | None = None
) -> ErasureRequestOut:
    """Schedules the erasure of the person after a grace period; cancellable until carried out."""
    request = await ctx.erasures.request(customer_id, body.grace_days if body else None)
    response.headers["Location"] = f"/v1/erasure-requests/{request['_id']}"
    return _erasure_out(await ctx.erasures.view(request), ctx.settings.personal_data_services)


@privacy_router.get("/customers/{customer_id}/erasure-requests")
async def customer_erasures(customer_id: str, ctx: Ctx) -> list[ErasureRequestOut]:
    """The customer's erasure requests, newest first (also once erased)."""
    views = await ctx.erasures.of_customer(customer_id)
    return [_erasure_out(v, ctx.settings.personal_data_services) for v in views]


@privacy_router.get("/erasure-requests")
async def list_erasures(
    ctx: Ctx, status: ErasureStatus | None = None, limit: Limit = 50, cursor: Cursor = None
) -> Page[ErasureRequestOut]:
    """Every erasure request, newest first, optionally of one status."""
    views = await ctx.erasures.list(status)
    after = _after(cursor)
    if after:
        views = [v for v in views if (v.request["requested_at"], v.request["_id"]) < after]
    items = [_erasure_out(v, ctx.settings.personal_data_services) for v in views[: limit + 1]]
    if len(items) <= limit:
        return Page(items=items)
    last = items[limit - 1]
    return Page(items=items[:limit], next_cursor=_cursor(last.requested_at, last.id))


@privacy_router.get("/erasure-requests/{request_id}")
async def get_erasure(request_id: str, ctx: Ctx) -> ErasureRequestOut:
    return _erasure_out(await ctx.erasures.get(request_id), ctx.settings.personal_data_services)


@privacy_router.delete(
    "/erasure-requests/{request_id}",
    responses={409: {"description": "erasure-carried-out: too late to cancel"}},
)
async def cancel_erasure(request_id: str, ctx: Ctx) -> ErasureRequestOut:
    """Cancels the erasure (200 with the request); once it is being carried out: 409."""
    return _erasure_out(await ctx.erasures.cancel(request_id), ctx.settings.personal_data_services)


@privacy_router.post(
    "/erasure-requests/{request_id}/cancel",
    responses={409: {"description": "erasure-carried-out: too late to cancel"}},
)
async def cancel_erasure_post(request_id: str, ctx: Ctx) -> ErasureRequestOut:
    """The same as DELETE, for clients that cannot send one."""
    return _erasure_out(await ctx.erasures.cancel(request_id), ctx.settings.personal_data_services)


# merging two customer records (staff)


def _merge_out(m: CustomerMerge) -> MergeOut:
    return MergeOut.model_validate({k: v for k, v in m.items() if k != "_id"})


@router.post(
    "/customers/{customer_id}/merge",
    responses={
        404: {"description": "not-found: this customer or `from_customer_id`"},
        409: {"description": "already-merged: the other record was merged before (or is being merged)"},
        422: {"description": "validation-error (also: a record merged into itself)"},
    },
)
async def merge_customers(customer_id: str, body: MergeCreate, ctx: Ctx) -> MergeResult:
    """Merges `from_customer_id` into this customer: its orders, notes, tasks, addresses and
    tags move here, it goes (`customer.merged`), and the merge is recorded (who, when, what)."""
    kept, audit = await ctx.merges.merge(customer_id, body.from_customer_id)
    return MergeResult(customer=CustomerOut.of(kept), merge=_merge_out(audit))


@router.get("/customers/{customer_id}/merges")
async def customer_merges(customer_id: str, ctx: Ctx) -> list[MergeOut]:
    """The records merged into this customer, newest first."""
    await ctx.customers.get(customer_id)
    return [_merge_out(m) for m in await ctx.merges.into(customer_id)]
