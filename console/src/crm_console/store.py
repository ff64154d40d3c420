"""The console's own documents: staff accounts, sessions and failed sign-ins. Every write is an
insert or a delete keyed by a unique index, never an update whose atomicity matters."""

from datetime import datetime

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from crm_console.domain.staff import FailureDoc, SessionDoc, StaffDoc
from crm_servicekit.mongo import IndexSpec, insert_once

INDEXES: IndexSpec = {
    "staff": [IndexModel([("email_key", ASCENDING)], name="email_key", unique=True)],
    "sessions": [IndexModel([("expires_at", ASCENDING)], name="expires_at")],
    "sign_in_failures": [IndexModel([("email_key", ASCENDING), ("at", ASCENDING)], name="email_key_at")],
}


class ConsoleStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self.staff = db["staff"]
        self.sessions = db["sessions"]
        self.failures = db["sign_in_failures"]

    async def add_staff(self, doc: StaffDoc) -> bool:
        """False when an account with that e-mail exists."""
        return await insert_once(self.staff, doc)

    async def staff_by_email(self, email_key: str) -> StaffDoc | None:
        return await self.staff.find_one({"email_key": email_key})

    async def staff_by_id(self, staff_id: str) -> StaffDoc | None:
        return await self.staff.find_one({"_id": staff_id})

    async def all_staff(self) -> list[StaffDoc]:
        return sorted([d async for d in self.staff.find({})], key=lambda d: d["email_key"])

    async def any_staff(self) -> bool:
        return await self.staff.find_one({}) is not None

    async def set_active(self, staff_id: str, active: bool) -> None:
        await self.staff.update_one({"_id": staff_id}, {"$set": {"active": active}})

    async def set_password(self, staff_id: str, password_hash: str) -> None:
        await self.staff.update_one({"_id": staff_id}, {"$set": {"password_hash": password_hash}})

    async def add_session(self, doc: SessionDoc) -> None:
        await self.sessions.insert_one(dict(doc))

    async def session(self, session_id: str) -> SessionDoc | None:
        return await self.sessions.find_one({"_id": session_id})

    async def drop_session(self, session_id: str) -> None:
        await self.sessions.delete_one({"_id": session_id})

    async def drop_sessions_of(self, staff_id: str) -> None:
        await self.sessions.delete_many({"staff_id": staff_id})

    async def drop_expired_sessions(self, now: datetime) -> int:
        return (await self.sessions.delete_many({"expires_at": {"$lt": now}})).deleted_count

    async def add_failure(self, doc: FailureDoc) -> None:
        await self.failures.insert_one(dict(doc))

    async def failures_since(self, email_key: str, since: datetime) -> list[datetime]:
        # equality on email_key is what FerretDB pushes down; the time is compared here
        return [d["at"] async for d in self.failures.find({"email_key": email_key}) if d["at"] > since]

    async def clear_failures(self, email_key: str) -> None:
        await self.failures.delete_many({"email_key": email_key})
