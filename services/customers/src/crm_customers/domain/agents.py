"""Sales agents, with no I/O: a new agent, edits, and the secret of an agent's calendar feed.

The feed is fetched by calendar apps that cannot send a bearer token, so its URL holds a
secret: 256 random bits, shown once, stored only as its SHA-256 (a stolen database does not
open the feeds) and compared in constant time."""

import hashlib
import hmac
import secrets
from datetime import datetime
from uuid import uuid4

from crm_contracts.types import email_key
from crm_customers.domain.documents import Agent, AgentChanges
from crm_servicekit.errors import Conflict, Invalid

_NO_TOKEN = hashlib.sha256(b"no calendar feed").hexdigest()  # compared against when there is none


def new_agent_id() -> str:
    return f"agt_{uuid4().hex}"


def new_agent(name: str, email: str, active: bool, now: datetime) -> Agent:
    return {
        "_id": new_agent_id(),
        "name": name,
        "email": email,
        "email_key": email_key(email),
        "active": active,
        "created_at": now,
        "updated_at": now,
        "calendar_token_sha256": None,
    }


def edit(agent: Agent, changes: AgentChanges, now: datetime) -> Agent:
    out: Agent = {**agent}
    if "name" in changes:
        out["name"] = changes["name"]
    if "email" in changes:
        out["email"], out["email_key"] = changes["email"], email_key(changes["email"])
    if "active" in changes:
        out["active"] = changes["active"]
    if out != agent:
        out["updated_at"] = max(now, agent["updated_at"])
    return out


def email_taken(email: str) -> Conflict:
    return Conflict(
        "agent-email-taken",
        "E-mail already in use",
        f"an agent with e-mail {email!r} exists",
        errors=[{"field": "email", "message": "already in use"}],
    )


def why_not_assignable(agent: Agent | None) -> str | None:
    """Why customers or tasks cannot be given to this agent (None: they can)."""
    if agent is None:
        return "no such agent"
    return None if agent["active"] else "the agent is inactive"


def not_assignable(field: str, agent_id: str, agent: Agent | None) -> Invalid:
    why = why_not_assignable(agent) or "not assignable"
    return Invalid(f"{field} {agent_id!r}: {why}", errors=[{"field": field, "message": why}])


def in_use(agent_id: str, customers: int, open_tasks: int) -> Conflict:
    return Conflict(
        "agent-in-use",
        "Agent still has customers or open tasks",
        f"agent {agent_id!r} is the agent of customers or has open tasks; reassign them or "
        "set active to false instead",
        customers=customers,
        open_tasks=open_tasks,
    )


def new_calendar_token() -> tuple[str, str]:
    """(the secret for the URL, its SHA-256 to store)."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def opens_feed(agent: Agent | None, token: str) -> bool:
    """Whether `token` is this agent's calendar secret; constant time in the token, and the
    same work when there is no agent or no feed."""
    stored = agent["calendar_token_sha256"] if agent else None
    ok = hmac.compare_digest(token_hash(token), stored or _NO_TOKEN)
    return ok and agent is not None and stored is not None and agent["active"]
