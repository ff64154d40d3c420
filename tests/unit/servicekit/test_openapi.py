"""Every service's OpenAPI document tells the truth about errors (problem+json, never FastAPI's
HTTPValidationError), has readable unique operation ids, and its /docs page loads every asset
from the service itself, so it opens on a machine without internet."""

import re
from contextlib import asynccontextmanager

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from pydantic import BaseModel

from crm_servicekit.errors import NotFound
from crm_servicekit.http import create_app

SERVICES = ["customers", "groups", "ledger", "segments", "engagement"]


@asynccontextmanager
async def _nothing(app):
    yield


class Thing(BaseModel):
    name: str


def small_app():
    router = APIRouter()

    @router.post("/things", status_code=201)
    async def create_thing(body: Thing) -> Thing:
        return body

    @router.get("/things/{thing_id}", responses={404: {"description": "no such thing"}})
    async def get_thing(thing_id: str) -> Thing:
        raise NotFound("Thing", thing_id)

    @router.get("/things", responses={409: {"description": "things-locked"}})
    async def list_things() -> list[Thing]:
        return []

    async def ready():
        return {"database": "ok"}

    return create_app(
        title="t", tokens=["a-token-of-sixteen-chars"], routers=[router], lifespan=_nothing, readiness=ready
    )


def test_docs_page_loads_its_assets_from_the_service():
    with TestClient(small_app()) as client:
        html = client.get("/docs").text
        assets = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", html)
        assert assets and all(a.startswith("/") for a in assets), assets  # nothing from a CDN
        assert "swagger-ui-bundle.js" in html
        for asset in assets:
            assert client.get(asset).status_code == 200, asset
        assert client.get("/redoc").status_code == 200


def test_errors_are_documented_as_the_problems_they_are():
    doc = small_app().openapi()
    schemas = doc["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ProblemDetails" in schemas
    create = doc["paths"]["/v1/things"]["post"]
    get = doc["paths"]["/v1/things/{thing_id}"]["get"]
    assert (create["operationId"], get["operationId"]) == ("create_thing", "get_thing")
    listing = doc["paths"]["/v1/things"]["get"]
    # What every operation of its shape can answer, and what the route declares.
    for op, statuses in (
        (create, {"400", "401", "422", "503"}),
        (get, {"401", "404", "422", "503"}),
        (listing, {"401", "409", "503"}),
    ):
        errors = {s: r for s, r in op["responses"].items() if int(s) >= 400}
        assert set(errors) == statuses
        for response in errors.values():
            assert response["content"] == {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}
            }
    assert get["responses"]["404"]["description"] == "no such thing"


def test_the_problem_a_client_gets_matches_the_documented_schema():
    with TestClient(small_app()) as client:
        r = client.get("/v1/things/x", headers={"Authorization": "Bearer a-token-of-sixteen-chars"})
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    required = small_app().openapi()["components"]["schemas"]["ProblemDetails"]["required"]
    assert set(required) <= set(r.json())


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_documents_problems_and_readable_unique_operation_ids(name, monkeypatch):
    monkeypatch.setenv("MONGODB_URL", "mongodb://127.0.0.1:1/")
    monkeypatch.setenv("RABBITMQ_URL", "amqp://u:p@127.0.0.1:1/")
    monkeypatch.setenv("CRM_API_TOKENS", "a-token-of-sixteen-chars")
    module = __import__(f"crm_{name}.app", fromlist=["service"])
    doc = module.service.app().openapi()
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values() if "operationId" in op]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", i) and "_v1_" not in i for i in ids), ids
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    for path, item in doc["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for op in item.values():
            assert "401" in op["responses"], (path, op["operationId"])
            for status, response in op["responses"].items():
                if int(status) >= 400:
                    assert "application/problem+json" in response["content"], (path, status)
