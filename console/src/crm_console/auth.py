"""Staff accounts and sign-in: Argon2 password hashes, server-side sessions (the cookie holds a
random token, the database only its hash), lock-out after repeated failures."""

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from crm_console.domain.staff import (
    ROLE_CAN_CHANGE,
    ROLES,
    Role,
    SessionDoc,
    StaffDoc,
    check_email,
    check_password,
    locked_until,
)
from crm_console.store import ConsoleStore
from crm_contracts.types import email_key
from crm_servicekit.clock import now_ms
from crm_servicekit.errors import Conflict, Forbidden, Invalid, NotFound

_hasher = PasswordHasher()
# Verified when the e-mail is unknown, so a wrong e-mail takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class SignedIn:
    """The person behind a request, and the session's CSRF token for the forms it is shown."""

    staff_id: str
    email: str
    name: str
    role: Role
    csrf: str
    session_id: str

    @property
    def can_change(self) -> bool:
        return ROLE_CAN_CHANGE[self.role]


def _session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def generate_password() -> str:
    return secrets.token_urlsafe(15)  # 20 characters, about 120 bits


class StaffAccounts:
    def __init__(
        self, store: ConsoleStore, *, session_hours: float, lockout_failures: int, lockout_minutes: float
    ):
        self.store = store
        self.session_lifetime = timedelta(hours=session_hours)
        self.lockout_failures = lockout_failures
        self.lockout_window = timedelta(minutes=lockout_minutes)

    async def create(self, email: str, password: str, role: str, name: str = "") -> StaffDoc:
        errors = []
        if problem := check_email(email):
            errors.append({"field": "email", "message": problem})
        if problem := check_password(password):
            errors.append({"field": "password", "message": problem})
        if role not in ROLES:
            errors.append({"field": "role", "message": f"One of {', '.join(ROLES)}"})
        if len(name) > 200:
            errors.append({"field": "name", "message": "At most 200 characters"})
        if errors:
            raise Invalid("; ".join(e["message"] for e in errors), errors=errors)
        doc: StaffDoc = {
            "_id": f"stf_{uuid.uuid4().hex[:20]}",
            "email": email.strip(),
            "email_key": email_key(email),
            "name": name.strip(),
            "role": role,  # type: ignore[typeddict-item]
            "password_hash": _hasher.hash(password),
            "active": True,
            "created_at": now_ms(),
        }
        if not await self.store.add_staff(doc):
            raise Conflict(
                "staff-exists", "Account exists", "a staff account with this e-mail exists",
                errors=[{"field": "email", "message": "A staff account with this e-mail exists"}],
            )  # fmt: skip
        return doc

    async def sign_in(self, email: str, password: str) -> str:
        """A new session's cookie token. Raises Forbidden for a wrong e-mail or password (the
        same answer for both) and for a locked or deactivated account."""
        key = email_key(email)
        now = now_ms()
        until = locked_until(
            await self.store.failures_since(key, now - self.lockout_window),
            limit=self.lockout_failures,
            window=self.lockout_window,
            now=now,
        )
        if until is not None:
            minutes = max(1, round((until - now).total_seconds() / 60))
            raise Forbidden(
                f"Too many failed sign-ins: this account is locked for {minutes} more minute(s).",
                slug="locked", title="Account locked",
            )  # fmt: skip
        staff = await self.store.staff_by_email(key)
        try:
            _hasher.verify(staff["password_hash"] if staff else _DUMMY_HASH, password)
            ok = staff is not None
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok or staff is None:
            # Recorded before answering: parallel guesses are counted too.
            await self.store.add_failure({"_id": uuid.uuid4().hex, "email_key": key, "at": now})
            raise Forbidden("Wrong e-mail or password.", slug="sign-in-failed", title="Sign-in failed")
        if not staff["active"]:
            raise Forbidden("This account is deactivated.", slug="deactivated", title="Account deactivated")
        await self.store.clear_failures(key)
        if _hasher.check_needs_rehash(staff["password_hash"]):
            await self.store.set_password(staff["_id"], _hasher.hash(password))
        token = secrets.token_urlsafe(32)
        session: SessionDoc = {
            "_id": _session_id(token),
            "staff_id": staff["_id"],
            "csrf": secrets.token_urlsafe(24),
            "created_at": now,
            "expires_at": now + self.session_lifetime,
        }
        await self.store.add_session(session)
        return token

    async def current(self, token: str | None) -> SignedIn | None:
        """Who holds this cookie token, or None (no session, expired, account deactivated)."""
        if not token:
            return None
        session = await self.store.session(_session_id(token))
        if session is None or session["expires_at"] <= now_ms():
            return None
        staff = await self.store.staff_by_id(session["staff_id"])
        if staff is None or not staff["active"]:
            return None
        return SignedIn(
            staff["_id"], staff["email"], staff["name"], staff["role"], session["csrf"], session["_id"]
        )

    async def sign_out(self, who: SignedIn) -> None:
        await self.store.drop_session(who.session_id)

    async def list(self) -> list[StaffDoc]:
        return await self.store.all_staff()

    async def set_active(self, who: SignedIn, staff_id: str, active: bool) -> None:
        if staff_id == who.staff_id and not active:
            raise Invalid("You cannot deactivate your own account.")
        if await self.store.staff_by_id(staff_id) is None:
            raise NotFound("Staff account", staff_id)
        await self.store.set_active(staff_id, active)
        if not active:
            await self.store.drop_sessions_of(staff_id)  # signed out everywhere at once

    async def reset_password(self, email: str) -> str:
        """A new generated password for the account (command line only)."""
        staff = await self.store.staff_by_email(email_key(email))
        if staff is None:
            raise NotFound("Staff account", email)
        password = generate_password()
        await self.store.set_password(staff["_id"], _hasher.hash(password))
        await self.store.clear_failures(staff["email_key"])
        await self.store.drop_sessions_of(staff["_id"])
        return password

    async def drop_expired_sessions(self) -> int:
        return await self.store.drop_expired_sessions(now_ms())
