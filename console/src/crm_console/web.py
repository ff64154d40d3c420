"""What every page shares: templates and their filters, who is signed in, the CSRF check, the
role check, and how errors become pages (a banner for a service that is down, a message beside
the field for bad input)."""

import hmac
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from crm_console.auth import SignedIn, StaffAccounts
from crm_console.backend import Api, ApiError, Backend
from crm_console.domain.money import show as show_money

SESSION_COOKIE = "crm_session"
HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")


def money(amount: int | None, currency: str | None = None) -> str:
    return show_money(amount, currency)


def when(value: str | datetime | None, with_time: bool = True) -> str:
    """An API time (RFC 3339) as `2026-11-22 10:00 UTC`."""
    if not value:
        return "—"
    t = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    return t.strftime("%Y-%m-%d %H:%M UTC" if with_time else "%Y-%m-%d")


templates.env.filters["money"] = money
templates.env.filters["when"] = when
templates.env.filters["urlquote"] = lambda s: quote(str(s), safe="")


class NotSignedIn(Exception):
    pass


class Refused(Exception):
    """A viewer asked for a change."""


class BadForm(Exception):
    """A form the console itself refuses before calling a service (a stale CSRF token)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def accounts(request: Request) -> StaffAccounts:
    return request.app.state.accounts


def backend(request: Request) -> Backend:
    return request.app.state.backend


async def _signed_in(request: Request) -> SignedIn:
    who = await accounts(request).current(request.cookies.get(SESSION_COOKIE))
    if who is None:
        raise NotSignedIn()
    request.state.who = who
    return who


async def _csrf_checked(request: Request, who: Annotated[SignedIn, Depends(_signed_in)]) -> SignedIn:
    """Every unsafe request carries the session's token: as the form field `csrf` or, from
    htmx, the X-CSRF-Token header (set once on <body>). A page of another site cannot read it."""
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        given = request.headers.get("X-CSRF-Token")
        if given is None:
            form = await request.form()
            field = form.get("csrf")
            given = field if isinstance(field, str) else ""
        if not hmac.compare_digest(given.encode(), who.csrf.encode()):
            raise BadForm(
                "This form is out of date (or came from another site). Reload the page and try again."
            )
    return who


async def _may_change(who: Annotated[SignedIn, Depends(_csrf_checked)]) -> SignedIn:
    if not who.can_change:
        raise Refused()
    return who


async def _admin_only(who: Annotated[SignedIn, Depends(_csrf_checked)]) -> SignedIn:
    if who.role != "admin":
        raise Refused()
    return who


Reader = Annotated[SignedIn, Depends(_csrf_checked)]
"""Signed in, any role (reads, and the few posts any role may make, like signing out)."""
Changer = Annotated[SignedIn, Depends(_may_change)]
"""Signed in with a role that may change things; CSRF checked."""
Admin = Annotated[SignedIn, Depends(_admin_only)]


def api(request: Request) -> Api:
    """The services, called on behalf of whoever is signed in (or nobody yet)."""
    who: SignedIn | None = getattr(request.state, "who", None)
    return backend(request).acting_for(who.email if who else None)


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A template rendered with what every page needs (who, csrf, flash from the query)."""
    who: SignedIn | None = getattr(request.state, "who", None)
    base: dict[str, Any] = {
        "who": who,
        "csrf": who.csrf if who else "",
        "flash": request.query_params.get("flash", "")[:300],
        "path": request.url.path,
        "errors": {},
        "values": {},
    }
    return templates.TemplateResponse(request, template, {**base, **context}, status_code=status)


def redirect(url: str, flash: str | None = None) -> Response:
    """After a change, back to a page (303, so a reload does not post again)."""
    if flash:
        url += ("&" if "?" in url else "?") + "flash=" + quote(flash)
    return RedirectResponse(url, status_code=303)


def form_errors(e: ApiError, known: set[str] | None = None) -> dict[str, str]:
    """An API error as messages per form field; what concerns no known field goes under "".
    `known` is the form's field names (None: every field the service named)."""
    errors: dict[str, str] = {}
    for field, message in e.field_errors.items():
        if known is None or field in known:
            errors[field] = message
        else:
            errors.setdefault("", f"{field}: {message}")
    if not errors:
        errors[""] = e.message
    return errors


async def unconfirmed(request: Request, question: str, label: str) -> Response | None:
    """A page asking `question` before an irreversible change, unless the form says it was
    confirmed (console.js adds `confirmed=yes` when its dialog is answered). So a browser
    without JavaScript, or a stale form, still asks first; the page posts the same fields again."""
    form = await request.form()
    if form.get("confirmed") == "yes":
        return None
    fields = [(k, v) for k, v in form.multi_items() if k not in ("csrf", "confirmed") and isinstance(v, str)]
    return page(
        request, "confirm.html", question=question, label=label, action=request.url.path, fields=fields
    )
