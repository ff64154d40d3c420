"""Staff accounts: who may sign in to the console and what each role may do."""

import re
from datetime import datetime, timedelta
from typing import Literal, TypedDict

Role = Literal["admin", "viewer"]
ROLES: tuple[Role, ...] = ("admin", "viewer")
ROLE_CAN_CHANGE: dict[Role, bool] = {"admin": True, "viewer": False}

MIN_PASSWORD = 12
MAX_PASSWORD = 200
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


class StaffDoc(TypedDict):
    _id: str
    email: str
    email_key: str  # unique: one account per e-mail, whatever its case
    name: str
    role: Role
    password_hash: str
    active: bool
    created_at: datetime


class SessionDoc(TypedDict):
    _id: str  # sha256 of the cookie's token: a database dump signs nobody in
    staff_id: str
    csrf: str
    created_at: datetime
    expires_at: datetime


class FailureDoc(TypedDict):
    _id: str
    email_key: str
    at: datetime


def check_email(email: str) -> str | None:
    """What is wrong with a staff e-mail, or None."""
    if not _EMAIL.fullmatch(email.strip()) or len(email) > 200:
        return "Enter an e-mail address such as maria@shop.example"
    return None


def check_password(password: str) -> str | None:
    if len(password) < MIN_PASSWORD:
        return f"At least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"At most {MAX_PASSWORD} characters"
    return None


def locked_until(
    failures: list[datetime], *, limit: int, window: timedelta, now: datetime
) -> datetime | None:
    """An account is locked once `limit` sign-ins failed within `window`; it opens again a
    window after the latest of those failures. None when it is open."""
    recent = sorted(t for t in failures if t > now - window)
    if len(recent) < limit:
        return None
    return recent[-1] + window
