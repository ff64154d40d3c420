"""Signing in and out. Before there is a session, the sign-in form is protected from other
sites by a double-submit token: a cookie and the same value in the form."""

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from crm_console.web import SESSION_COOKIE, Reader, accounts, page, redirect
from crm_servicekit.errors import Forbidden

router = APIRouter()
_PRE_CSRF = "crm_signin"


def _secure(request: Request) -> bool:
    mode = request.app.state.settings.secure_cookies
    return mode == "always" or (mode == "auto" and request.url.scheme == "https")


def _safe_next(target: str | None) -> str:
    """Only a path of this console: never another site (an open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/customers"


def _form(request: Request, status: int = 200, **context: object) -> Response:
    token = secrets.token_urlsafe(24)
    response = page(
        request, "signin.html", status, pre_csrf=token, next=request.query_params.get("next", ""), **context
    )
    response.set_cookie(
        _PRE_CSRF, token, httponly=True, samesite="strict", secure=_secure(request), path="/sign-in"
    )
    return response


@router.get("/")
async def home() -> Response:
    return redirect("/customers")


@router.get("/sign-in")
async def sign_in_form(request: Request) -> Response:
    return _form(request)


@router.post("/sign-in")
async def sign_in(
    request: Request,
    email: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    cookie = request.cookies.get(_PRE_CSRF, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), csrf.encode()):
        return _form(
            request, 400, error="This sign-in form is out of date. Please try again.", values={"email": email}
        )
    if not email.strip() or not password:
        errors = {k: "Required" for k, v in (("email", email.strip()), ("password", password)) if not v}
        return _form(request, 422, errors=errors, values={"email": email})
    try:
        token = await accounts(request).sign_in(email, password)
    except Forbidden as e:
        return _form(
            request, 401 if e.slug == "sign-in-failed" else 403, error=e.detail, values={"email": email}
        )
    response = redirect(_safe_next(next))
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(request.app.state.settings.session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )
    response.delete_cookie(_PRE_CSRF, path="/sign-in")
    return response


@router.post("/sign-out")
async def sign_out(request: Request, who: Reader) -> Response:
    await accounts(request).sign_out(who)
    response = redirect("/sign-in", "You are signed out.")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
