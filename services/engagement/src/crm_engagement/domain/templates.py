"""Mail templates: Jinja2's sandboxed environment (templates are written by staff, so they may
not reach Python internals), HTML autoescaped, and StrictUndefined, so that an unknown variable
is refused when the template is saved instead of producing a broken mail later."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, TemplateError, meta
from jinja2.sandbox import SandboxedEnvironment

from crm_servicekit.errors import Invalid

VARIABLES = (
    "customer",
    "order",
    "unsubscribe_url",
    "preferences_url",
    "shop_name",
    "survey_url",
    "survey_question",
)
"""What a template may use. `customer`: first_name, last_name, full_name, email, categories.
`order` (mails caused by an order): order_id, total, currency, placed_at, lines (sku, name,
category, quantity, unit_price). `unsubscribe_url`: marketing mail only, else empty.
`preferences_url`: marketing mail only (the customer's preference centre), else empty.
`survey_url`, `survey_question`: survey mail only (append `?score=N` to preselect), else empty."""

_html = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True)
_plain = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)

ZERO_DECIMAL = {"JPY", "KRW", "CLP", "ISK", "VND", "XAF", "XOF", "HUF", "TWD", "UGX"}


def money(minor: int, currency: str) -> str:
    """12999, EUR -> "129.99 EUR" (display only; amounts stay integers everywhere else)."""
    if currency in ZERO_DECIMAL:
        return f"{minor} {currency}"
    return f"{minor // 100}.{minor % 100:02d} {currency}"


SAMPLE: dict[str, Any] = {
    "customer": {
        "first_name": "Ana",
        "last_name": "Lima",
        "full_name": "Ana Lima",
        "email": "ana@example.com",
        "categories": ["shoes", "socks"],
    },
    "order": {
        "order_id": "ord_1001",
        "total": money(12999, "EUR"),
        "currency": "EUR",
        "placed_at": "2026-11-22 10:00 UTC",
        "lines": [
            {
                "sku": "SKU-1",
                "name": "Runner",
                "category": "shoes",
                "quantity": 2,
                "unit_price": money(4999, "EUR"),
            }
        ],
    },
    "unsubscribe_url": "https://shop.example/unsubscribe/sample",
    "preferences_url": "https://shop.example/preferences/sample",
    "shop_name": "Shop",
    "survey_url": "https://shop.example/survey/sample",
    "survey_question": "How likely are you to recommend us to a friend or colleague?",
}
"""A context holding every variable, to check a template against when it is saved."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


PARTS = ("subject", "html", "text")


def _env(part: str) -> SandboxedEnvironment:
    return _html if part == "html" else _plain


def uses_order(parts: Mapping[str, str]) -> bool:
    return any("order" in meta.find_undeclared_variables(_env(p).parse(parts[p])) for p in PARTS)


def check(parts: Mapping[str, str]) -> None:
    """Raises Invalid, naming each part at fault, unless every part compiles, uses only known
    variables (also in branches a sample does not take) and renders with the sample."""
    errors: list[dict[str, str]] = []
    for part in PARTS:
        source = parts[part]
        try:
            unknown = meta.find_undeclared_variables(_env(part).parse(source)) - set(VARIABLES)
            if unknown:
                errors.append(
                    {"field": part, "message": f"unknown variable(s): {', '.join(sorted(unknown))}"}
                )
                continue
            _env(part).from_string(source).render(SAMPLE)
        except TemplateError as e:
            errors.append({"field": part, "message": f"{type(e).__name__}: {e.message or e}"})
        except Exception as e:  # noqa: BLE001 - whatever a template does wrong is the template's fault
            errors.append({"field": part, "message": f"{type(e).__name__}: {e}"})
    if errors:
        raise Invalid(
            "the template cannot be rendered: " + "; ".join(e["message"] for e in errors), errors=errors
        )


def render(parts: Mapping[str, str], context: Mapping[str, Any]) -> Rendered:
    """Renders the parts; raises Invalid if the context lacks what the template uses."""
    out: dict[str, str] = {}
    for part in PARTS:
        try:
            out[part] = _env(part).from_string(parts[part]).render(dict(context))
        except Exception as e:  # noqa: BLE001 - a template error, never a transient one
            message = f"{type(e).__name__}: {e}"
            raise Invalid(
                f"the template cannot be rendered: {message}", errors=[{"field": part, "message": message}]
            ) from e
    # A subject is one line: a newline there would start a header of its own.
    subject = " ".join(out["subject"].split())
    return Rendered(subject, out["html"], out["text"])


def parts_of(doc: Any) -> dict[str, str]:
    """The subject, HTML and text of a stored template."""
    return {"subject": doc["subject"], "html": doc["html"], "text": doc["text"]}
