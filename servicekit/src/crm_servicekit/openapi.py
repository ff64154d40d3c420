"""The OpenAPI document every service publishes, made to tell the truth: every error status is
an RFC 9457 problem (what `problems` really sends, not FastAPI's `HTTPValidationError`), every
`/v1` operation documents the errors every operation of its shape can answer (401 and 503 all;
400 and 422 with a body; 404 and 422 with path parameters; 422 with query parameters), routes
declare the rest (`responses={409: {"description": "<slug>"}}`), and operation ids are the route functions' names
(`create_customer`, not `create_customer_v1_customers_post`)."""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from crm_servicekit.problems import MEDIA_TYPE, PROBLEM_BASE


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the offending field; `(body)` for the whole body")
    message: str


class ProblemDetails(BaseModel):
    """RFC 9457 problem details, as every error response of this API is."""

    type: str = Field(
        description=f"{PROBLEM_BASE}<slug>; the slug names the problem", examples=[PROBLEM_BASE + "not-found"]
    )
    title: str
    status: int
    instance: str = Field(description="The request path")
    detail: str | None = None
    errors: list[FieldError] | None = Field(
        default=None, description="With 422: what was wrong, field by field"
    )

    model_config = {"extra": "allow", "json_schema_extra": {"additionalProperties": True}}


_DEFAULT_DESCRIPTIONS = {
    400: "Bad request",
    401: "Missing or invalid bearer token",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict with the current state",
    413: "Payload too large",
    422: "Invalid input: `errors` lists what was wrong",
    503: "Unavailable for now: retry after `Retry-After` seconds",
}
_PROBLEM_REF = {"$ref": "#/components/schemas/ProblemDetails"}


def operation_id(route: APIRoute) -> str:
    """The route function's name: stable, readable and what a generated client calls."""
    return route.name


def install(app: FastAPI) -> None:
    """Replaces `app.openapi` with one that rewrites the error responses as problems."""

    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(
            title=app.title, version=app.version, routes=app.routes, description=app.description
        )
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        for name, schema in (
            ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
            .pop("$defs", {})
            .items()
        ):
            schemas[name] = schema
        schemas["ProblemDetails"] = {
            k: v
            for k, v in ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}").items()
            if k != "$defs"
        }
        for path, item in doc.get("paths", {}).items():
            if not path.startswith("/v1/"):
                continue  # health and readiness answer in their own shapes
            for method, op in item.items():
                if method not in ("get", "put", "post", "patch", "delete"):
                    continue
                responses = op.setdefault("responses", {})
                locations = {p.get("in") for p in op.get("parameters", [])}
                generic = ["401", "503"]  # no or bad token; the database away
                if "requestBody" in op:
                    generic += ["400", "422"]  # a body that is not JSON; one that breaks its schema
                if "path" in locations:
                    generic += ["404", "422"]  # an id that names nothing; one malformed
                if locations & {"query", "header"}:
                    generic.append("422")
                for status in generic:
                    responses.setdefault(status, {})
                for status, response in responses.items():
                    if not status.isdigit() or int(status) < 400:
                        continue
                    response["description"] = response.get("description") or _DEFAULT_DESCRIPTIONS.get(
                        int(status), "Error"
                    )
                    if response["description"] == "Validation Error":
                        response["description"] = _DEFAULT_DESCRIPTIONS[422]
                    response["content"] = {MEDIA_TYPE: {"schema": _PROBLEM_REF}}
        app.openapi_schema = doc
        return doc

    app.openapi = build  # type: ignore[method-assign]
