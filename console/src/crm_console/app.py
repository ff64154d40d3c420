"""Wiring of the console: settings, the console's database, the services' clients, pages,
static files, and how the exceptions of web.py become pages."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from crm_console import pages
from crm_console.auth import StaffAccounts
from crm_console.backend import ApiError, Backend, ServiceDown
from crm_console.settings import ConsoleSettings
from crm_console.store import INDEXES, ConsoleStore
from crm_console.web import HERE, BadForm, NotSignedIn, Refused, is_htmx, page
from crm_servicekit import logs
from crm_servicekit.errors import DomainError
from crm_servicekit.mongo import Mongo

log = logging.getLogger("crm.console")

# Scripts and styles only from this origin (htmx and console.js are files here): an injected
# <script> does not run. Framing is refused (clickjacking).
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def create_app(settings: ConsoleSettings | None = None) -> FastAPI:
    settings = settings or ConsoleSettings()
    token = settings.service_token  # refuse to start without one

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        mongo = Mongo(settings.mongodb_url, settings.mongodb_database)
        await mongo.ensure_indexes(INDEXES)
        app.state.mongo = mongo
        app.state.accounts = StaffAccounts(
            ConsoleStore(mongo.db),
            session_hours=settings.session_hours,
            lockout_failures=settings.lockout_failures,
            lockout_minutes=settings.lockout_minutes,
        )
        app.state.backend = Backend(settings.service_urls, token, settings.backend_timeout_seconds)

        async def sweep() -> None:  # expired sessions are refused anyway; this keeps the table small
            while True:
                with contextlib.suppress(Exception):
                    await app.state.accounts.drop_expired_sessions()
                await asyncio.sleep(3600)

        sweeper = asyncio.create_task(sweep())
        try:
            yield
        finally:
            sweeper.cancel()
            await app.state.backend.close()
            await mongo.close()

    app = FastAPI(title="CRM console", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    # Swagger UI's own files, from the package the services serve /docs with (no CDN).
    swagger = Path(fastapi_offline.__file__).parent / "static"
    app.mount("/static/swagger", StaticFiles(directory=swagger), name="swagger")
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for router in pages.routers:
        app.include_router(router)

    @app.middleware("http")
    async def _headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        for k, v in _SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")  # pages hold personal data
        return response

    @app.exception_handler(NotSignedIn)
    async def _not_signed_in(request: Request, exc: NotSignedIn) -> Response:
        target = "/sign-in?next=" + request.url.path if request.method == "GET" else "/sign-in"
        if is_htmx(request):
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> Response:
        message = "You are signed in as a viewer: you can look, not change. Ask an admin to make this change."
        return _message(request, 403, "Not allowed", message)

    @app.exception_handler(BadForm)
    async def _bad_form(request: Request, exc: BadForm) -> Response:
        return _message(request, 400, "Form out of date", exc.message)

    @app.exception_handler(ServiceDown)
    async def _down(request: Request, exc: ServiceDown) -> Response:
        log.warning("backend down: %s", exc)
        message = (
            f"The {exc.service} service is not answering right now, so this page cannot be shown "
            "or this change was not made. Nothing was lost: try again in a moment."
        )
        return _message(request, 503, f"{exc.service.capitalize()} unavailable", message, down=exc.service)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        return _message(request, exc.status, exc.title, exc.detail or exc.title)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        # A page that does not handle the error itself: say what the service said.
        status = exc.status if exc.status in (404, 409, 422) else 502
        return _message(request, status, "Not done" if status != 404 else "Not found", exc.message)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        try:
            await app.state.mongo.ping()
        except Exception as e:  # noqa: BLE001 - any failure means not ready
            return JSONResponse(
                {"status": "unavailable", "checks": {"database": str(e)[:200]}}, status_code=503
            )
        return JSONResponse({"status": "ok", "checks": {"database": "ok"}})

    return app


def _message(
    request: Request, status: int, title: str, message: str, down: str | None = None
) -> HTMLResponse:
    """A page (or, for htmx, the banner) saying what went wrong in words."""
    if is_htmx(request):
        response = page(request, "_banner.html", status, title=title, message=message, down=down)
        # Shown in the page's banner, whatever the request meant to swap.
        response.headers["HX-Retarget"] = "#banner"
        response.headers["HX-Reswap"] = "innerHTML"
        return response
    return page(request, "message.html", status, title=title, message=message, down=down)


def main() -> None:
    import uvicorn

    settings = ConsoleSettings()
    logs.configure("console", settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        proxy_headers=True,  # X-Forwarded-Proto from a TLS proxy on this host: Secure cookies
        access_log=False,
    )
