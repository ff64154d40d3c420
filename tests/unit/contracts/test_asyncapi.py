"""The AsyncAPI document of crm.events: its examples are valid events, it covers every event type
with the right direction, the committed docs/asyncapi.json is up to date, and the official
AsyncAPI parser (@asyncapi/parser 3.x, installed by ./crm test into .cache/asyncapi-parser)
finds no error in it."""

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from crm_contracts import EVENT_MODELS, INBOUND, OUTBOUND, CloudEvent
from crm_contracts.asyncapi import document
from crm_contracts.docs import dumps
from crm_contracts.examples import EXAMPLES, example_envelope
from crm_contracts.names import CONTENT_TYPE, EXCHANGE

ROOT = Path(__file__).resolve().parents[3]
COMMITTED = ROOT / "docs" / "asyncapi.json"
VALIDATOR = Path(__file__).with_name("asyncapi_validate.mjs")
PARSER_DIR = ROOT / ".cache" / "asyncapi-parser"
COMPONENT_KEY = re.compile(r"^[a-zA-Z0-9.\-_]+$")
TYPES = sorted(EVENT_MODELS)


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return document()


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []


def resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return resolve(doc, node["$ref"]) if isinstance(node, dict) and "$ref" in node else node


@pytest.mark.parametrize("event_type", TYPES)
def test_every_example_is_a_valid_event(event_type):
    model = EVENT_MODELS[event_type]
    model.model_validate(EXAMPLES[event_type])
    envelope = example_envelope(event_type)
    event = CloudEvent[model].model_validate(envelope)  # type: ignore[valid-type]
    assert event.type == event_type and event.specversion == "1.0"
    assert json.loads(json.dumps(envelope)) == envelope


def test_examples_cover_exactly_the_registry():
    assert set(EXAMPLES) == set(EVENT_MODELS)


def test_committed_asyncapi_document_is_up_to_date(doc):
    assert COMMITTED.exists(), f"{COMMITTED} missing: run ./crm docs"
    assert json.loads(COMMITTED.read_text()) == doc, f"{COMMITTED} is stale: run ./crm docs"
    assert COMMITTED.read_text() == dumps(doc), f"{COMMITTED} is not formatted as generated: run ./crm docs"


@pytest.mark.parametrize("event_type", TYPES)
def test_every_type_has_channel_operation_and_message(doc, event_type):
    channel = doc["channels"][event_type]
    assert channel["address"] == event_type
    amqp = channel["bindings"]["amqp"]
    assert amqp["is"] == "routingKey" and amqp["bindingVersion"] == "0.3.0"
    assert amqp["exchange"] | {"name": EXCHANGE, "type": "topic", "durable": True} == amqp["exchange"]

    action = "receive" if event_type in INBOUND else "send"
    ops = [op for op in doc["operations"].values() if op["channel"]["$ref"] == f"#/channels/{event_type}"]
    assert [op["action"] for op in ops] == [action]

    (ref,) = [r["$ref"] for r in ops[0]["messages"]]
    message = resolve(doc, ref)
    assert message is doc["components"]["messages"][event_type]
    assert message["contentType"] == CONTENT_TYPE and message["name"] == event_type
    payload = message["payload"]
    assert payload["properties"]["type"]["const"] == event_type
    data_ref = payload["properties"]["data"]["$ref"]
    assert data_ref == f"#/components/schemas/{EVENT_MODELS[event_type].__name__}"
    assert message["examples"][0]["payload"]["type"] == event_type


def test_directions_follow_the_registry(doc):
    actions = {op["channel"]["$ref"].rsplit("/", 1)[1]: op["action"] for op in doc["operations"].values()}
    assert {t for t, a in actions.items() if a == "receive"} == set(INBOUND)
    assert {t for t, a in actions.items() if a == "send"} == set(OUTBOUND)


def test_refs_resolve_and_no_defs_are_left(doc):
    text = json.dumps(doc)
    assert "$defs" not in text
    for ref in refs(doc):
        resolve(doc, ref)  # KeyError if dangling
    for section in doc["components"].values():
        for key in section:
            assert COMPONENT_KEY.match(key), key
    assert "http://" not in doc["info"]["description"] and "https://" not in doc["info"]["description"]
    assert "docs/contract.md" in doc["info"]["description"]


def run_parser(path: Path) -> tuple[int, dict[str, Any]]:
    if shutil.which("node") is None or not (PARSER_DIR / "node_modules" / "@asyncapi" / "parser").exists():
        pytest.fail(
            "the AsyncAPI parser is not installed: run ./crm test unit (it installs node and"
            f" @asyncapi/parser into {PARSER_DIR.relative_to(ROOT)})"
        )
    done = subprocess.run(
        ["node", str(VALIDATOR), str(path), str(PARSER_DIR)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def test_official_parser_accepts_the_document():
    rc, report = run_parser(COMMITTED)
    errors = [d for d in report["diagnostics"] if d["severity"] == 0]
    assert rc == 0 and report["valid"] and not errors, json.dumps(errors, indent=2)


def test_official_parser_rejects_a_broken_ref(doc, tmp_path):
    broken = json.loads(json.dumps(doc))
    broken["components"]["messages"]["order.placed"]["payload"]["properties"]["data"]["$ref"] = (
        "#/components/schemas/NoSuchModel"
    )
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    rc, report = run_parser(path)
    assert rc == 1 and not report["valid"]
    assert any(d["severity"] == 0 and "NoSuchModel" in d["message"] for d in report["diagnostics"])
