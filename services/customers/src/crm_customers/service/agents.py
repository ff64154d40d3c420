"""Sales agents: records of their own (name, e-mail, active), the agent of customers and the
assignee of tasks; each has a calendar feed of its tasks behind a secret URL.

An agent is edited in place (last writer wins: staff edit agents by hand and nothing is
derived from them); its e-mail is unique through a claim inserted with the e-mail as _id."""

from dataclasses import dataclass

from crm_customers.domain import agents
from crm_customers.domain.documents import Agent, AgentChanges
from crm_customers.store import CustomerStore
from crm_servicekit.clock import now_ms
from crm_servicekit.errors import NotFound


async def assignable(store: CustomerStore, field: str, agent_id: str) -> Agent:
    """The agent, which must exist and be active to be given customers or tasks (Invalid)."""
    agent = await store.agent(agent_id)
    if agent is None or not agent["active"]:
        raise agents.not_assignable(field, agent_id, agent)
    return agent


@dataclass
class Agents:
    store: CustomerStore

    async def get(self, agent_id: str) -> Agent:
        agent = await self.store.agent(agent_id)
        if agent is None:
            raise NotFound("Agent", agent_id)
        return agent

    async def create(self, name: str, email: str, active: bool) -> Agent:
        agent = agents.new_agent(name, email, active, now_ms())
        if not await self.store.claim_agent_email(agent["email_key"], agent["_id"]):
            raise agents.email_taken(email)
        await self.store.add_agent(agent)
        return agent

    async def edit(self, agent_id: str, changes: AgentChanges) -> Agent:
        agent = await self.get(agent_id)
        new = agents.edit(agent, changes, now_ms())
        moved = new["email_key"] != agent["email_key"]
        if moved and not await self.store.claim_agent_email(new["email_key"], agent_id):
            raise agents.email_taken(new["email"])
        if new != agent:
            await self.store.save_agent(new)
        if moved:
            await self.store.release_agent_email(agent["email_key"], agent_id)
        return new

    async def delete(self, agent_id: str) -> None:
        """Only an agent with no customers and no open tasks (Conflict): deactivate the others."""
        await self.get(agent_id)
        customers = await self.store.count_customers_of_agent(agent_id)
        open_tasks = await self.store.count_open_tasks_of(agent_id)
        if customers or open_tasks:
            raise agents.in_use(agent_id, customers, open_tasks)
        await self.store.delete_agent(agent_id)

    async def new_calendar_token(self, agent_id: str) -> tuple[Agent, str]:
        """A new secret for the agent's feed (the previous one stops working); returned once."""
        agent = await self.get(agent_id)
        token, digest = agents.new_calendar_token()
        new: Agent = {
            **agent,
            "calendar_token_sha256": digest,
            "updated_at": max(now_ms(), agent["updated_at"]),
        }
        await self.store.save_agent(new)
        return new, token

    async def revoke_calendar_token(self, agent_id: str) -> Agent:
        agent = await self.get(agent_id)
        if agent["calendar_token_sha256"] is None:
            return agent
        new: Agent = {
            **agent,
            "calendar_token_sha256": None,
            "updated_at": max(now_ms(), agent["updated_at"]),
        }
        await self.store.save_agent(new)
        return new

    async def feed_owner(self, agent_id: str, token: str) -> Agent | None:
        """The agent whose feed `token` opens (None for any wrong id, token or inactive agent)."""
        agent = (
            await self.store.agent(agent_id) if agent_id.startswith("agt_") and len(agent_id) < 64 else None
        )
        return agent if agents.opens_feed(agent, token) else None
