"""Issue 20, examples: every JSON request body of the customers and engagement APIs documents a
realistic example (Swagger UI offers it as the request to try; schemathesis's explicit phase
sends it), and every documented example, of a request or a response, is one its own model
accepts, parsed from JSON as the HTTP layer does, and is documented as written (FastAPI drops
every null from the document, examples included: an example must not rely on one)."""

import importlib
import json
import pkgutil
from types import ModuleType
from typing import Any

import pytest
from pydantic import BaseModel

SERVICES = ["customers", "engagement"]


def openapi(name: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("MONGODB_URL", "mongodb://127.0.0.1:1/")
    monkeypatch.setenv("RABBITMQ_URL", "amqp://u:p@127.0.0.1:1/")
    monkeypatch.setenv("CRM_API_TOKENS", "a-token-of-sixteen-chars")
    module = importlib.import_module(f"crm_{name}.app")
    return module.service.app().openapi()


def models(name: str) -> dict[str, type[BaseModel]]:
    """The service's HTTP models by class name: schemas.py, or every module of schemas/."""
    package = importlib.import_module(f"crm_{name}.schemas")
    modules: list[ModuleType] = [package]
    if hasattr(package, "__path__"):
        modules += [
            importlib.import_module(m.name)
            for m in pkgutil.iter_modules(package.__path__, f"{package.__name__}.")
        ]
    found: dict[str, type[BaseModel]] = {}
    for module in modules:
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseModel)
                and value.__module__ == module.__name__
            ):
                found[value.__name__] = value
    return found


def body_refs(schema: dict[str, Any]) -> list[str]:
    """The component names a body schema refers to (an optional body is anyOf [ref, null])."""
    if "$ref" in schema:
        return [schema["$ref"].rsplit("/", 1)[-1]]
    return [name for branch in schema.get("anyOf", []) for name in body_refs(branch)]


def json_bodies(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(operation, component name) of every JSON request body."""
    out = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            content = op.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                refs = body_refs(content["application/json"]["schema"])
                assert refs, (method, path, "a JSON body that is not a model")
                out += [(f"{method.upper()} {path}", ref) for ref in refs]
    return out


@pytest.mark.parametrize("name", SERVICES)
def test_every_json_request_body_documents_an_example(name, monkeypatch):
    doc = openapi(name, monkeypatch)
    bodies = json_bodies(doc)
    assert len(bodies) >= 15  # the service's bodies were found, not an empty document
    schemas = doc["components"]["schemas"]
    missing = [(op, ref) for op, ref in bodies if not schemas[ref].get("examples")]
    assert not missing, missing


@pytest.mark.parametrize("name", SERVICES)
def test_every_documented_example_is_accepted_by_its_model(name, monkeypatch):
    doc = openapi(name, monkeypatch)
    by_name = models(name)
    documented = {n: s["examples"] for n, s in doc["components"]["schemas"].items() if s.get("examples")}
    request_models = {ref for _, ref in json_bodies(doc)}
    assert request_models <= set(documented)
    for schema_name, examples in documented.items():
        model = by_name[schema_name]  # a component named after its class in the schemas module
        written = model.model_json_schema()["examples"]
        assert json.loads(json.dumps(written)) == examples, (
            f"{schema_name}: a null was dropped from the document"
        )
        for example in examples:
            parsed = model.model_validate_json(json.dumps(example))  # ValidationError names the field
            if schema_name in request_models:
                # Every field the example gives is a field of the request (nothing ignored).
                assert set(example) <= set(type(parsed).model_fields), schema_name


def test_the_template_example_is_one_the_service_would_save():
    """A template's example must also compile and use only known variables (checked on save)."""
    from crm_engagement.domain.templates import check
    from crm_engagement.schemas.mail import TemplateIn

    for example in TemplateIn.model_json_schema()["examples"]:
        check(TemplateIn.model_validate(example).parts())  # raises Invalid otherwise
