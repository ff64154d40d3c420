"""Templates: create, edit, delete, preview; the pre-built ones."""

import uuid
from typing import Any

from crm_engagement.domain import (
    BUILTIN,
    SAMPLE,
    MailKind,
    Rendered,
    TemplateDoc,
    check,
    customer_vars,
    parts_of,
    render,
)
from crm_engagement.settings import EngagementSettings
from crm_engagement.store import EngagementStore
from crm_servicekit.clock import now_ms
from crm_servicekit.errors import NotFound


class Templates:
    def __init__(self, store: EngagementStore, settings: EngagementSettings) -> None:
        self.store = store
        self.settings = settings

    async def seed(self) -> None:
        """Creates the pre-built templates that are missing (a unique _id each: replicas
        starting together create each once)."""
        now = now_ms()
        for b in BUILTIN:
            doc: TemplateDoc = {
                "_id": b["id"],
                "name": b["name"],
                "kind": b["kind"],
                "subject": b["subject"],
                "html": b["html"],
                "text": b["text"],
                "builtin": True,
                "created_at": now,
                "updated_at": now,
            }
            await self.store.add_template(doc)

    async def create(
        self, name: str, kind: MailKind, parts: dict[str, str], topic: str | None = None
    ) -> TemplateDoc:
        check(parts)
        now = now_ms()
        doc: TemplateDoc = {
            "_id": "tpl_" + uuid.uuid4().hex[:16],
            "name": name,
            "kind": kind,
            "subject": parts["subject"],
            "html": parts["html"],
            "text": parts["text"],
            "builtin": False,
            "created_at": now,
            "updated_at": now,
            "topic": topic if kind == "marketing" else None,
        }
        await self.store.add_template(doc)
        return doc

    async def get(self, template_id: str) -> TemplateDoc:
        doc = await self.store.template(template_id)
        if doc is None:
            raise NotFound("Template", template_id)
        return doc

    async def replace(
        self, template_id: str, name: str, kind: MailKind, parts: dict[str, str], topic: str | None = None
    ) -> TemplateDoc:
        """Replaces the whole template (the last of two concurrent edits wins, whole)."""
        old = await self.get(template_id)
        check(parts)
        doc: TemplateDoc = {
            **old,
            "name": name,
            "kind": kind,
            "subject": parts["subject"],
            "html": parts["html"],
            "text": parts["text"],
            "updated_at": now_ms(),
            "topic": topic if kind == "marketing" else None,
        }
        if not await self.store.replace_template(doc):
            raise NotFound("Template", template_id)
        return doc

    async def delete(self, template_id: str) -> None:
        if not await self.store.delete_template(template_id):
            raise NotFound("Template", template_id)

    async def list(self, after: str | None, limit: int) -> list[TemplateDoc]:
        return await self.store.list_templates(after, limit + 1)

    async def preview(self, template_id: str, customer_id: str | None) -> Rendered:
        """Renders with a customer's data (or the sample's), the sample order and a sample
        unsubscribe link."""
        doc = await self.get(template_id)
        context: dict[str, Any] = {**SAMPLE, "shop_name": self.settings.shop_name}
        if customer_id is not None:
            contact = await self.store.contact(customer_id)
            if contact is None or contact["email"] is None:
                raise NotFound("Customer", customer_id)
            context["customer"] = customer_vars(contact, contact["email"], None, None)
        return render(parts_of(doc), context)
