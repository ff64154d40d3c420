"""The HTTP app every service serves: bearer auth on /v1, problem+json errors, health, metrics,
and its documentation (/docs, /redoc, /openapi.json) served without any CDN."""

import hmac
import json
import logging
import re
import socket
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from crm_servicekit import logs, metrics, openapi, problems
from crm_servicekit.problems import Problem
from crm_servicekit.storable import has_nul, may_have_nul, url_has_nul

API_PREFIX = "/v1"
REQUEST_ID = "X-Request-ID"
OPERATOR = "X-CRM-Operator"  # the person behind a request of a trusted client (the console)
_REQUEST_ID_FORMAT = re.compile(r"[A-Za-z0-9._:-]{1,128}")  # a caller's id is kept if it looks like one
_OPERATOR_FORMAT = re.compile(r"[^\x00-\x1f\x7f]{1,200}")  # printable, as an e-mail or a name
_QUIET = {"/healthz", "/readyz", "/metrics"}  # polled all the time: counted, not logged
_access = logging.getLogger("crm.access")

_bearer = HTTPBearer(auto_error=False, description="A token from CRM_API_TOKENS")


def _route(request: Request) -> str:
    """The route's path template (`/v1/customers/{customer_id}`): a label with few values."""
    path = getattr(request.scope.get("route"), "path", None)
    if path is None:
        return "unmatched"
    # FastAPI 0.16x matches an included router's route by its own path, without the prefix
    if request.url.path.startswith(API_PREFIX + "/") and not path.startswith(API_PREFIX + "/"):
        path = API_PREFIX + path
    return str(path)


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A listening socket bound with SO_REUSEPORT: every replica of a service binds the same
    port and the kernel spreads new connections over the replicas that are alive."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def require_token(tokens: list[str]) -> Callable[..., None]:
    encoded = [t.encode() for t in tokens]

    def check(credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> None:
        if not encoded:  # development run, explicitly allowed by CRM_DEV_NO_AUTH
            return
        given = credentials.credentials.encode() if credentials else b""
        # Compare with every token in constant time, so timing reveals nothing.
        if not credentials or not any([hmac.compare_digest(given, t) for t in encoded]):
            raise Problem(401, "unauthorized", "Missing or invalid bearer token")

    return check


def create_app(
    *,
    title: str,
    tokens: list[str],
    routers: list[APIRouter],
    public_routers: list[APIRouter] | None = None,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    readiness: Callable[[], Any],
) -> FastAPI:
    # /docs and /redoc with their scripts served from the installation: no CDN, so they open
    # on a machine without internet.
    app = FastAPIOffline(
        title=title, version="1.0.0", lifespan=lifespan, generate_unique_id_function=openapi.operation_id
    )
    problems.install(app)
    openapi.install(app)
    check_token = require_token(tokens)

    @app.middleware("http")
    async def _storable(request: Request, call_next: Callable[..., Any]) -> Response:
        # Registered before _auth_first, so it runs inside it: a 401 still comes first.
        bad = url_has_nul(request.url.path, request.url.query)
        if not bad and request.method in ("POST", "PUT", "PATCH"):
            raw = await request.body()
            if may_have_nul(raw):
                try:
                    bad = has_nul(json.loads(raw))
                except ValueError:
                    bad = False  # not JSON: the route's own validation answers
        if bad:
            return problems.render(
                request,
                Problem(
                    422,
                    "validation-error",
                    "Invalid input",
                    "text may not contain the character U+0000 (NUL)",
                    errors=[{"field": "(body)", "message": "contains U+0000"}],
                ),
            )
        return await call_next(request)

    @app.middleware("http")
    async def _auth_first(request: Request, call_next: Callable[..., Any]) -> Response:
        # FastAPI parses a JSON body before it runs dependencies: without this check, an
        # unauthenticated request with a malformed body got a 422 instead of a 401.
        if request.url.path.startswith(API_PREFIX + "/"):
            scheme, credentials = get_authorization_scheme_param(request.headers.get("Authorization"))
            given = (
                HTTPAuthorizationCredentials(scheme=scheme, credentials=credentials)
                if scheme.lower() == "bearer" and credentials
                else None
            )
            try:
                check_token(given)
            except Problem as p:
                return problems.render(request, p)
        return await call_next(request)

    @app.middleware("http")
    async def _observe(request: Request, call_next: Callable[..., Any]) -> Response:
        # Outermost: every answer, a 401 too, carries the request id, is counted and timed.
        given = request.headers.get(REQUEST_ID, "")
        request_id = given if _REQUEST_ID_FORMAT.fullmatch(given) else uuid.uuid4().hex
        token = logs.request_id_var.set(request_id)  # on logs and on the events stored
        # Only requests that pass the token check reach a route, so only a client holding a
        # token can name an operator; an ill-formed name is ignored rather than stored.
        operator = request.headers.get(OPERATOR, "").strip()
        operator_token = logs.operator_var.set(operator if _OPERATOR_FORMAT.fullmatch(operator) else None)
        started = time.perf_counter()
        try:
            response = await call_next(request)
            elapsed = time.perf_counter() - started
            route = _route(request)
            metrics.HTTP_REQUESTS.labels(request.method, route, str(response.status_code)).inc()
            metrics.HTTP_SECONDS.labels(request.method, route).observe(elapsed)
            response.headers[REQUEST_ID] = request_id
            if route not in _QUIET:
                _access.info(
                    "%s %s %d %.1f ms",
                    request.method,
                    request.url.path,
                    response.status_code,
                    elapsed * 1000,
                    extra={
                        "method": request.method,
                        "path": request.url.path,
                        "status": response.status_code,
                        "duration_ms": round(elapsed * 1000, 1),
                    },
                )
            return response
        finally:
            logs.request_id_var.reset(token)
            logs.operator_var.reset(operator_token)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses={503: {"description": "not ready"}})
    async def readyz() -> JSONResponse:
        checks = await readiness()
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "checks": checks},
            status_code=200 if ok else 503,
        )

    @app.get("/metrics", tags=["health"], include_in_schema=False)
    async def prometheus() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    auth = Depends(require_token(tokens))
    for router in routers:
        app.include_router(router, prefix=API_PREFIX, dependencies=[auth])
    for router in public_routers or []:
        # Outside /v1 and its token, for clients that cannot send one (a calendar app):
        # such a route must carry its own credential (a secret in its URL).
        app.include_router(router)
    return app
