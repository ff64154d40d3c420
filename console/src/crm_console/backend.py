"""The services' HTTP APIs as the console calls them: one client per service holding the service
token (which never leaves this process), every call naming the signed-in person as its operator.
A service that does not answer is `ServiceDown`; an error answer is `ApiError` with the problem."""

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

SERVICES = ("customers", "groups", "ledger", "segments", "engagement")


class ServiceDown(Exception):
    def __init__(self, service: str, reason: str) -> None:
        super().__init__(f"the {service} service is not answering ({reason})")
        self.service = service


class ApiError(Exception):
    """An answer of 4xx or 5xx: `problem` is its RFC 9457 body (or what could be read of it)."""

    def __init__(self, service: str, status: int, problem: dict[str, Any]) -> None:
        self.service, self.status, self.problem = service, status, problem
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """One sentence for people: the detail if the service gave one, else its title."""
        detail = self.problem.get("detail") or self.problem.get("title") or f"HTTP {self.status}"
        return str(detail)[:1000]

    @property
    def field_errors(self) -> dict[str, str]:
        """Field name -> message, for showing each beside its field (`addresses.0.city`
        stays as it is; a form names its inputs the same way)."""
        out: dict[str, str] = {}
        for e in self.problem.get("errors") or []:
            if isinstance(e, dict) and e.get("field"):
                out.setdefault(str(e["field"]), str(e.get("message", "invalid")))
        return out

    @property
    def slug(self) -> str:
        return str(self.problem.get("type", "")).rsplit("/", 1)[-1]


class Backend:
    def __init__(self, urls: dict[str, str], token: str, timeout: float) -> None:
        self.clients = {
            name: httpx.AsyncClient(
                base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout
            )
            for name, url in urls.items()
        }

    async def close(self) -> None:
        for client in self.clients.values():
            await client.aclose()

    def acting_for(self, operator: str | None) -> "Api":
        return Api(self, operator)


@dataclass
class Api:
    backend: Backend
    operator: str | None

    async def request(
        self,
        service: str,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | list[tuple[str, Any]] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        raw: bool = False,
    ) -> Any:
        """The answer's JSON (None for 204; the httpx.Response itself when `raw`)."""
        sent = {"X-Request-ID": f"console-{uuid.uuid4().hex[:16]}", **(headers or {})}
        if self.operator:
            sent["X-CRM-Operator"] = self.operator
        if isinstance(params, dict):  # drop empty filters: "" means "not given" in a form
            params = {k: v for k, v in params.items() if v not in (None, "")}
        try:
            r = await self.backend.clients[service].request(
                method, path, params=params, json=json, headers=sent
            )
        except httpx.TransportError as e:
            raise ServiceDown(service, type(e).__name__) from e
        if r.status_code in (502, 503, 504) and "problem" not in r.headers.get("content-type", ""):
            raise ServiceDown(service, f"HTTP {r.status_code}")
        if r.status_code >= 400:
            try:
                problem = r.json()
            except ValueError:
                problem = {"title": r.text[:200] or f"HTTP {r.status_code}"}
            if r.status_code == 503 and str(problem.get("type", "")).endswith("/service-unavailable"):
                raise ServiceDown(service, "its database is unreachable")
            raise ApiError(service, r.status_code, problem if isinstance(problem, dict) else {})
        if raw:
            return r
        return None if r.status_code == 204 or not r.content else r.json()

    async def get(self, service: str, path: str, **kw: Any) -> Any:
        return await self.request(service, "GET", path, **kw)

    async def post(self, service: str, path: str, **kw: Any) -> Any:
        return await self.request(service, "POST", path, **kw)

    async def patch(self, service: str, path: str, **kw: Any) -> Any:
        return await self.request(service, "PATCH", path, **kw)

    async def put(self, service: str, path: str, **kw: Any) -> Any:
        return await self.request(service, "PUT", path, **kw)

    async def delete(self, service: str, path: str, **kw: Any) -> Any:
        return await self.request(service, "DELETE", path, **kw)
