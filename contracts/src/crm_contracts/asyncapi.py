"""The AsyncAPI 3.0.0 document of the exchange `crm.events`, built from the contracts: one channel,
operation and message per event type, the data models under components.schemas. `./crm docs`
writes it to docs/asyncapi.json (see docs.py)."""

import copy
import inspect
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from crm_contracts.envelope import CloudEvent
from crm_contracts.examples import example_envelope
from crm_contracts.names import CONTENT_TYPE, EXCHANGE
from crm_contracts.registry import EVENT_MODELS, INBOUND

ASYNCAPI_VERSION = "3.0.0"
AMQP_BINDING_VERSION = "0.3.0"
REF_TEMPLATE = "#/components/schemas/{model}"

DESCRIPTION = f"""\
Every event of the CRM, inbound and outbound, on one RabbitMQ durable topic exchange, \
`{EXCHANGE}`.

- **Body:** a CloudEvents 1.0 envelope in structured mode, content type `{CONTENT_TYPE}`; \
`data` is the payload of the event's type.
- **Routing key:** the event `type`.
- **AMQP properties:** `message_id` = the event `id`, `content_type` = `{CONTENT_TYPE}`, \
persistent delivery (delivery mode 2).
- **Duplicates:** delivery is at least once; consumers deduplicate by `id`.
- **Direction:** the CRM *receives* what storefronts publish (`order.*`, `newsletter.*`) and \
*sends* the rest.
- **Money** is an integer in minor units with an ISO 4217 code; **times** are RFC 3339 with an \
offset.

The contract in words, with queues, dead letters and the rules behind each event, is \
docs/contract.md (§1 Broker). Generated from `crm_contracts` by `./crm docs`; do not edit."""


def _version() -> str:
    try:
        return version("crm-contracts")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
        return "0.0.0"


def _summary(event_type: str, model: type[BaseModel]) -> str:
    doc = inspect.cleandoc(model.__doc__ or "")
    if doc:
        return " ".join(doc.split())
    direction = "Published by storefronts" if event_type in INBOUND else "Published by the CRM"
    return f"{direction}: `data` is {model.__name__}."


def data_schemas() -> tuple[dict[type[BaseModel], str], dict[str, Any]]:
    """Every data model's JSON Schema in one namespace (components.schemas), and each model's
    key in it. All models at once, so shared sub-models get one consistent name."""
    models = sorted(set(EVENT_MODELS.values()), key=lambda m: (m.__name__, m.__module__))
    key_map, defs = models_json_schema([(m, "validation") for m in models], ref_template=REF_TEMPLATE)
    names: dict[type[BaseModel], str] = {}
    for model in models:
        names[model] = key_map[(model, "validation")]["$ref"].removeprefix(REF_TEMPLATE.format(model=""))
    return names, dict(sorted(defs.get("$defs", {}).items()))


def _envelope_schema() -> dict[str, Any]:
    schema = CloudEvent[Any].model_json_schema()
    schema.pop("title", None)
    return schema


def document() -> dict[str, Any]:
    names, schemas = data_schemas()
    envelope = _envelope_schema()
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for key, model in sorted(EVENT_MODELS.items()):
        event_type = str(key)  # plain str, not the EventType member
        inbound = event_type in INBOUND
        summary = _summary(event_type, model)
        channels[event_type] = {
            "address": event_type,
            "title": event_type,
            "description": (
                f"Messages on `{EXCHANGE}` with routing key `{event_type}`"
                f" ({'published by storefronts' if inbound else 'published by the CRM'})."
            ),
            "servers": [{"$ref": "#/servers/local"}],
            "messages": {event_type: {"$ref": f"#/components/messages/{event_type}"}},
            "bindings": {
                "amqp": {
                    "is": "routingKey",
                    "exchange": {
                        "name": EXCHANGE,
                        "type": "topic",
                        "durable": True,
                        "autoDelete": False,
                        "vhost": "/",
                    },
                    "bindingVersion": AMQP_BINDING_VERSION,
                }
            },
        }
        action = "receive" if inbound else "send"
        operations[f"{action}.{event_type}"] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{event_type}"},
            "messages": [{"$ref": f"#/channels/{event_type}/messages/{event_type}"}],
            "title": f"{'Receive' if inbound else 'Send'} {event_type}",
            "summary": (
                f"The CRM receives `{event_type}` from storefronts."
                if inbound
                else f"The CRM sends `{event_type}`."
            ),
            "tags": [{"name": "inbound" if inbound else "outbound"}],
            "bindings": {"amqp": {"deliveryMode": 2, "bindingVersion": AMQP_BINDING_VERSION}},
        }
        payload = copy.deepcopy(envelope)
        payload["title"] = f"CloudEvent {event_type}"
        payload["properties"]["type"]["const"] = event_type
        payload["properties"]["data"] = {"$ref": REF_TEMPLATE.format(model=names[model])}
        messages[event_type] = {
            "name": event_type,
            "title": event_type,
            "summary": summary,
            "contentType": CONTENT_TYPE,
            "payload": payload,
            "examples": [{"name": event_type, "payload": example_envelope(event_type)}],
        }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "CRM events",
            "version": _version(),
            "description": DESCRIPTION,
            "tags": [
                {"name": "inbound", "description": "Published by storefronts, received by the CRM"},
                {"name": "outbound", "description": "Sent by the CRM's services"},
            ],
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "local": {
                "host": "127.0.0.1:5672",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": (
                    "RabbitMQ of a local installation (`./crm up`). The user and password are not"
                    " part of this document: they come from the installation (its secrets file,"
                    " or RABBITMQ_URL)."
                ),
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }
