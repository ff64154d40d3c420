"""Issue 20: every JSON request body of the groups, ledger and segments APIs documents an example
(what Swagger UI offers to try, and schemathesis's own test builder sends), and every example
in their documents is valid: against the schema the document publishes, against the Pydantic
model that parses it, and, for request bodies, against the rules the service checks beyond the
model (a segment rule that parses, a programme or a price that can work, storable metadata)."""

import importlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import jsonschema_rs
import pytest
from pydantic import BaseModel

from crm_groups.domain.metadata import MetadataLimits, merge_metadata
from crm_groups.domain.pricing import check_price
from crm_ledger.domain import Program
from crm_ledger.domain.programmes import check
from crm_segments.domain.segments import parse_rule

SERVICES = ["groups", "ledger", "segments"]
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def _group(body: Any) -> None:
    merge_metadata({}, body.metadata or {}, MetadataLimits())


def _programme(body: Any) -> None:
    check(Program(**{"points_per_unit": 1, **body.fields()}, id="prg_example", version=1, effective_from=NOW))


def _spend(body: Any) -> None:
    assert body.starts_at < body.ends_at


def _rule(body: Any) -> None:
    if body.rule is not None:
        parse_rule(body.rule)


# What the service checks beyond the model before it accepts the body (service/ and domain/).
BEYOND_THE_MODEL: dict[str, Callable[[Any], None]] = {
    "GroupCreate": _group,
    "GroupPatch": _group,
    "PriceCreate": lambda body: check_price(body.fields()),
    "ProgrammeIn": _programme,
    "ProgrammePatch": _programme,
    "SegmentIn": _rule,
    "SegmentPatch": _rule,
    "PreviewIn": _rule,
    "SpendIn": _spend,
}


def document(name: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("MONGODB_URL", "mongodb://127.0.0.1:1/")
    monkeypatch.setenv("RABBITMQ_URL", "amqp://u:p@127.0.0.1:1/")
    monkeypatch.setenv("CRM_API_TOKENS", "a-token-of-sixteen-chars")
    module = importlib.import_module(f"crm_{name}.app")
    doc: dict[str, Any] = module.service.app().openapi()
    return doc


def body_schemas(schema: dict[str, Any]) -> list[str]:
    """The component names a request body's schema refers to (an optional body is anyOf it and null)."""
    if "$ref" in schema:
        return [schema["$ref"].removeprefix("#/components/schemas/")]
    return [name for option in schema.get("anyOf", []) for name in body_schemas(option)]


def model_of(name: str, component: str) -> type[BaseModel] | None:
    """The service's Pydantic model of a component, by its name (FastAPI splits a model used
    both ways into `-Input` and `-Output`); None for one not of its schemas module (servicekit's)."""
    schemas = importlib.import_module(f"crm_{name}.schemas")
    model = getattr(schemas, component.removesuffix("-Input").removesuffix("-Output"), None)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


@pytest.mark.parametrize("name", SERVICES)
def test_every_json_request_body_documents_an_example(name, monkeypatch):
    doc = document(name, monkeypatch)
    components = doc["components"]["schemas"]
    bodies = 0
    for path, item in doc["paths"].items():
        for method, op in item.items():
            content = op.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            refs = body_schemas(content["application/json"]["schema"])
            assert refs, (method, path, "a body with no model of ours")
            for ref in refs:
                bodies += 1
                assert components[ref].get("examples"), f"{method.upper()} {path}: {ref} has no example"
    assert bodies >= 4  # the documents do have bodies: this test is not vacuous


@pytest.mark.parametrize("name", SERVICES)
def test_every_documented_example_is_valid(name, monkeypatch):
    doc = document(name, monkeypatch)
    components = doc["components"]["schemas"]
    request_bodies = {
        ref
        for item in doc["paths"].values()
        for op in item.values()
        for media in op.get("requestBody", {}).get("content", {}).values()
        for ref in body_schemas(media["schema"])
    }
    checked = 0
    for component, schema in components.items():
        model = model_of(name, component)
        if model is None:
            assert "examples" not in schema, component
            continue
        declared = model.model_json_schema().get("examples", [])
        # FastAPI writes the document without nulls (exclude_none), also inside examples: an
        # example holding a null would be published without that member.
        assert schema.get("examples", []) == json.loads(json.dumps(declared)), (
            f"{component}: the document shows another example than the model declares (a null?)"
        )
        for example in schema.get("examples", []):
            # As schemathesis (and any client generator) reads the document.
            published = {"$ref": f"#/components/schemas/{component}", "components": doc["components"]}
            validator = jsonschema_rs.Draft202012Validator(published, validate_formats=True)
            errors = [e.message for e in validator.iter_errors(example)]
            assert not errors, (component, errors)
            # As the service parses it from JSON.
            parsed = model.model_validate_json(json.dumps(example))
            if component in request_bodies and component in BEYOND_THE_MODEL:
                BEYOND_THE_MODEL[component](parsed)
            checked += 1
    assert checked >= len(request_bodies)


def test_a_rule_the_service_refuses_is_caught_here():
    """The checks beyond the model do refuse: a bad example would not pass unnoticed."""
    schemas = importlib.import_module("crm_segments.schemas")
    with pytest.raises(Exception, match="rule"):
        _rule(schemas.SegmentIn(name="x", rule="amount_spent >>= 5"))
