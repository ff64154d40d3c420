"""RFC 9457 problem details: the one place errors become HTTP responses. Use cases raise
domain errors (crm_servicekit.errors); the HTTP plumbing itself (auth, idempotency keys) raises
`Problem`."""

import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pymongo.errors import ConnectionFailure
from starlette.exceptions import HTTPException as StarletteHTTPException

from crm_servicekit.errors import DomainError

PROBLEM_BASE = "https://crm.example/problems/"
MEDIA_TYPE = "application/problem+json"


class Problem(Exception):
    def __init__(self, status: int, slug: str, title: str, detail: str | None = None, **extra: Any):
        super().__init__(detail or title)
        self.status, self.slug, self.title, self.detail, self.extra = status, slug, title, detail, extra


def invalid(detail: str, **extra: Any) -> Problem:
    return Problem(422, "validation-error", "Invalid input", detail, **extra)


def from_domain(e: DomainError) -> Problem:
    return Problem(e.status, e.slug, e.title, e.detail, **e.extra)


def render(request: Request, p: Problem) -> JSONResponse:
    body = {
        "type": PROBLEM_BASE + p.slug,
        "title": p.title,
        "status": p.status,
        "instance": request.url.path,
        **({"detail": p.detail} if p.detail else {}),
        **p.extra,
    }
    headers = {"WWW-Authenticate": "Bearer"} if p.status == 401 else None
    return JSONResponse(body, status_code=p.status, media_type=MEDIA_TYPE, headers=headers)


_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
}


def install(app: Any) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return render(request, exc)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        response = render(request, from_domain(exc))
        if exc.transient:
            response.headers["Retry-After"] = "1"
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"] if p != "body"), "message": e["msg"]}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return render(request, invalid(detail, errors=errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug = _SLUGS.get(exc.status_code, "http-error")
        return render(request, Problem(exc.status_code, slug, str(exc.detail)))

    @app.exception_handler(ConnectionFailure)
    async def _database_away(request: Request, exc: ConnectionFailure) -> JSONResponse:
        # Transient: tell the client to retry instead of reporting a server bug.
        logging.getLogger(__name__).warning("database unreachable on %s: %s", request.url.path, exc)
        response = render(request, Problem(503, "service-unavailable", "Database unreachable, retry later"))
        response.headers["Retry-After"] = "5"
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logging.getLogger(__name__).exception("unhandled error on %s", request.url.path)
        return render(request, Problem(500, "internal-error", "Internal error"))
