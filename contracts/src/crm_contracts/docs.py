"""Writes the event documentation: one JSON Schema per event type (envelope with its typed
`data`) plus an index, under docs/events/, and the AsyncAPI 3.0 document of the exchange beside
that directory (docs/asyncapi.json). Run `python -m crm_contracts.docs <dir>`."""

import json
import sys
from pathlib import Path
from typing import Any

from crm_contracts import asyncapi
from crm_contracts.envelope import CloudEvent
from crm_contracts.names import CONTENT_TYPE, EXCHANGE
from crm_contracts.registry import EVENT_MODELS, INBOUND


def schemas() -> dict[str, dict[str, Any]]:
    out = {}
    for event_type, model in sorted(EVENT_MODELS.items()):
        schema = CloudEvent[model].model_json_schema()  # type: ignore[valid-type]
        schema["title"] = event_type
        schema["description"] = (
            f"{'Inbound (published by storefronts)' if event_type in INBOUND else 'Outbound'}"
            f" event `{event_type}`: CloudEvents 1.0 envelope on exchange `{EXCHANGE}`, routing"
            f" key `{event_type}`, content type `{CONTENT_TYPE}`. {(model.__doc__ or '').strip()}"
        ).strip()
        out[event_type] = schema
    return out


def render_index(all_schemas: dict[str, dict[str, Any]]) -> str:
    lines = [
        "# Events",
        "",
        f"Every event is a CloudEvents 1.0 JSON envelope published to the topic exchange `{EXCHANGE}`",
        f"with routing key = `type`, `content_type` = `{CONTENT_TYPE}`, AMQP `message_id` = `id`,",
        "persistent delivery. Money is an integer in minor units with an ISO 4217 code; times are",
        "RFC 3339 with an offset. Generated from `crm_contracts` by `./crm docs`; do not edit.",
        "",
        f"The whole exchange as one AsyncAPI {asyncapi.ASYNCAPI_VERSION} document (channels, operations,",
        "messages with examples): [`asyncapi.json`](../asyncapi.json).",
        "",
        "| type | direction | schema |",
        "|---|---|---|",
    ]
    for t in all_schemas:
        lines.append(f"| `{t}` | {'inbound' if t in INBOUND else 'outbound'} | [{t}.json]({t}.json) |")
    return "\n".join(lines) + "\n"


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def write(directory: Path, asyncapi_path: Path | None = None) -> None:
    """docs/events/<type>.json and README.md in `directory`; the AsyncAPI document at
    `asyncapi_path`, by default asyncapi.json beside `directory` (docs/asyncapi.json)."""
    directory.mkdir(parents=True, exist_ok=True)
    all_schemas = schemas()
    for t, schema in all_schemas.items():
        (directory / f"{t}.json").write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
    (directory / "README.md").write_text(render_index(all_schemas))
    (asyncapi_path or directory.parent / "asyncapi.json").write_text(dumps(asyncapi.document()))


if __name__ == "__main__":
    write(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/events"))
