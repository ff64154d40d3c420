"""Registering with a guest's e-mail, with no I/O: the verification token (generated, stored
only as its SHA-256, single use, expiring) and its errors."""

import hashlib
import secrets
from datetime import datetime

from crm_servicekit.errors import DomainError, Invalid


def new_token() -> tuple[str, str]:
    """A token to e-mail (256 bits) and the hash that is stored."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_expired(expires_at: datetime, now: datetime) -> bool:
    return now >= expires_at


class TokenUnknown(DomainError):
    """Never says whether the token was used, mistyped or never existed."""

    status = 404
    default_slug = "not-found"
    default_title = "Verification token not found"


def token_unknown() -> TokenUnknown:
    return TokenUnknown("this verification token is unknown or was already used")


def token_expired() -> Invalid:
    return Invalid(
        "this verification token has expired: register again for a new one",
        slug="verification-expired",
        title="Verification token expired",
        errors=[{"field": "token", "message": "expired"}],
    )
