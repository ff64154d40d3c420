"""NPS and satisfaction surveys, with no I/O: the stored documents, the signed expiring
answer link, and the NPS arithmetic.

A survey is sent by mail (a message per customer, once per survey and customer); the mail's
link carries a token signed for (survey, customer, expiry). One answer per survey and
customer: the first one counts, a second is refused (an inserted answer with a unique id; an
answer is never overwritten, so what was reported stays true)."""

import base64
import hashlib
import hmac
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, TypedDict

SurveyKind = Literal["nps", "satisfaction"]
Period = Literal["day", "week", "month"]

DEFAULT_QUESTION = {
    "nps": "How likely are you to recommend us to a friend or colleague?",
    "satisfaction": "How satisfied are you with us?",
}


class SurveyDoc(TypedDict):
    _id: str  # srv_<hex>
    name: str
    kind: SurveyKind
    question: str
    template_id: str
    after_orders: bool  # sent to the customer of every order placed (once per customer)
    created_at: datetime
    updated_at: datetime


class AnswerDoc(TypedDict):
    """One customer's answer to one survey, inserted once (the id derives from both)."""

    _id: str
    survey_id: str
    customer_id: str
    score: int  # 0-10
    comment: str | None
    at: datetime


def survey_id() -> str:
    return f"srv_{uuid.uuid4().hex[:20]}"


def answer_id(survey: str, customer_id: str) -> str:
    return "ans_" + hashlib.sha256(f"{survey}:{customer_id}".encode()).hexdigest()[:32]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, value: str) -> str:
    return _b64(hmac.new(secret.encode(), f"survey:{value}".encode(), hashlib.sha256).digest()[:24])


def token(secret: str, survey: str, customer_id: str, expires: datetime) -> str:
    """`<payload>.<signature>`: the payload names the survey, the customer and the expiry."""
    value = f"{survey}|{customer_id}|{int(expires.timestamp())}"
    return f"{_b64(value.encode())}.{_mac(secret, value)}"


@dataclass(frozen=True)
class Ticket:
    survey_id: str
    customer_id: str
    expires: datetime


def read_token(secret: str, text: str) -> Ticket | None:
    """What a token was signed for, or None if it is not one of ours (expiry not checked)."""
    head, _, sig = text.partition(".")
    try:
        value = _unb64(head).decode()
        survey, customer_id, exp = value.split("|")
        expires = datetime.fromtimestamp(int(exp), UTC)
    except (ValueError, UnicodeDecodeError):
        return None
    if not survey or not customer_id or not hmac.compare_digest(sig, _mac(secret, value)):
        return None
    return Ticket(survey, customer_id, expires)


def category(score: int) -> Literal["promoter", "passive", "detractor"]:
    return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"


def summary(scores: Iterable[int]) -> dict[str, float | int | None]:
    """Responses, promoters (9-10), passives (7-8), detractors (0-6), NPS = % promoters - %
    detractors (one decimal; None without answers) and the average score (two decimals)."""
    values = list(scores)
    n = len(values)
    promoters = sum(1 for s in values if s >= 9)
    detractors = sum(1 for s in values if s <= 6)
    return {
        "responses": n,
        "promoters": promoters,
        "passives": n - promoters - detractors,
        "detractors": detractors,
        "nps": round(100 * (promoters - detractors) / n, 1) if n else None,
        "average": round(sum(values) / n, 2) if n else None,
    }


def period_of(at: datetime, period: Period) -> str:
    if period == "day":
        return at.strftime("%Y-%m-%d")
    if period == "week":
        year, week, _ = at.isocalendar()
        return f"{year}-W{week:02d}"
    return at.strftime("%Y-%m")
