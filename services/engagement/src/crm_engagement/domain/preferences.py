"""The preference centre, with no I/O: consent per topic and channel, kept as inserted change
sets (time and source each), the newest statement per (topic, channel) deciding, and the
signed, expiring link to the page where a customer sets them.

The newsletter by e-mail is the marketing consent the rest of the service already keeps
(consent statements by e-mail, newsletter.* events); the other topics and channels live here
only. No statement means no consent."""

import base64
import hashlib
import hmac
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal, TypedDict

Topic = Literal["newsletter", "offers", "product_news"]
Channel = Literal["email", "sms"]
TOPICS: tuple[Topic, ...] = ("newsletter", "offers", "product_news")
CHANNELS: tuple[Channel, ...] = ("email", "sms")
LABELS = {"newsletter": "Newsletter", "offers": "Special offers", "product_news": "Product news"}


class Change(TypedDict):
    topic: Topic
    channel: Channel
    granted: bool


class PreferenceChanges(TypedDict):
    """One submission of the preference page (or one API call): what changed, when, from
    where, with its events (the outbox). Inserted once, never updated."""

    _id: str
    customer_id: str
    changes: list[Change]
    at: datetime
    source: str  # preference-centre, ...
    recorded_at: datetime
    outbox: list[dict[str, Any]]
    published: bool


class Stated(TypedDict):
    granted: bool
    at: datetime | None
    source: str | None


def current(change_sets: Iterable[PreferenceChanges]) -> dict[tuple[str, str], Stated]:
    """(topic, channel) -> the newest statement (at the same time, a withdrawal wins); every
    pair is present, not granted if never stated."""
    out: dict[tuple[str, str], Stated] = {
        (t, c): {"granted": False, "at": None, "source": None} for t in TOPICS for c in CHANNELS
    }
    for cs in sorted(change_sets, key=lambda d: d["at"]):
        for ch in cs["changes"]:
            seen = out[(ch["topic"], ch["channel"])]
            if seen["at"] is not None and seen["at"] == cs["at"] and not seen["granted"]:
                continue
            out[(ch["topic"], ch["channel"])] = {
                "granted": ch["granted"],
                "at": cs["at"],
                "source": cs["source"],
            }
    return out


def changed(before: dict[tuple[str, str], Stated], wanted: dict[tuple[str, str], bool]) -> list[Change]:
    """What the submission changes: only pairs whose wanted state differs from the current."""
    return [
        {"topic": t, "channel": c, "granted": wanted[(t, c)]}
        for t in TOPICS
        for c in CHANNELS
        if (t, c) in wanted and wanted[(t, c)] != before[(t, c)]["granted"]
    ]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, value: str) -> str:
    return _b64(hmac.new(secret.encode(), f"preferences:{value}".encode(), hashlib.sha256).digest()[:24])


def token(secret: str, customer_id: str, expires: datetime) -> str:
    value = f"{customer_id}|{int(expires.timestamp())}"
    return f"{_b64(value.encode())}.{_mac(secret, value)}"


def read_token(secret: str, text: str) -> tuple[str, datetime] | None:
    """(customer id, expiry) a token was signed for, or None if it is not one of ours."""
    head, _, sig = text.partition(".")
    try:
        value = _unb64(head).decode()
        customer_id, exp = value.split("|")
        expires = datetime.fromtimestamp(int(exp), UTC)
    except (ValueError, UnicodeDecodeError):
        return None
    if not customer_id or not hmac.compare_digest(sig, _mac(secret, value)):
        return None
    return customer_id, expires
