"""Passwords: Argon2id hashes (argon2-cffi). Hashing is CPU-bound on purpose, so it runs in a
thread, not on the event loop. Plain passwords are never stored, returned or logged."""

import asyncio
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id with the library's (RFC 9106 low-memory) parameters


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


_unknown: list[str] = []  # a hash of a random secret, for when there is no hash to check


async def verify_password(hashed: str | None, password: str) -> bool:
    """Whether `password` matches `hashed`; with no hash (unknown e-mail, no password set) the
    same Argon2 work is done against a random one and the answer is False, so the time of a
    login attempt does not tell whether the account exists."""
    if hashed is None and not _unknown:
        _unknown.append(await hash_password(secrets.token_urlsafe(32)))
    target = hashed if hashed is not None else _unknown[0]

    def check() -> bool:
        try:
            return _hasher.verify(target, password)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check) and hashed is not None
