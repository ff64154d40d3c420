"""NPS and satisfaction surveys: created by staff, sent by mail (to customers, a segment, or
after each order), answered through a signed expiring link, reported as NPS per period and
per segment. Survey mail is queued like any other message (once per survey and customer) and
goes through the sender (consent and the frequency limit if its template is marketing)."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from crm_contracts import new_event
from crm_contracts.names import EventType
from crm_contracts.outbound import SurveyResponseRecorded
from crm_contracts.types import email_key
from crm_engagement.domain import surveys as rules
from crm_engagement.domain.surveys import AnswerDoc, Period, SurveyDoc, SurveyKind
from crm_engagement.service.messages import Messages, Recipient
from crm_engagement.settings import EngagementSettings
from crm_engagement.store import EngagementStore
from crm_servicekit.clock import now_ms
from crm_servicekit.errors import Conflict, Forbidden, Invalid, NotFound


@dataclass(frozen=True)
class Sent:
    queued: int  # mails queued now (a customer sent this survey before is not queued again)
    not_found: int  # ids this service does not know (or erased)


class Surveys:
    def __init__(
        self, store: EngagementStore, settings: EngagementSettings, messages: Messages, secret: str
    ) -> None:
        self.store = store
        self.settings = settings
        self.messages = messages
        self.secret = secret

    async def create(
        self, name: str, kind: SurveyKind, question: str | None, template_id: str, after_orders: bool
    ) -> SurveyDoc:
        await self.messages.template(template_id)  # 404 for an unknown template
        now = now_ms()
        doc: SurveyDoc = {
            "_id": rules.survey_id(),
            "name": name,
            "kind": kind,
            "question": question or rules.DEFAULT_QUESTION[kind],
            "template_id": template_id,
            "after_orders": after_orders,
            "created_at": now,
            "updated_at": now,
        }
        await self.store.add_survey(doc)
        return doc

    async def get(self, survey_id: str) -> SurveyDoc:
        doc = await self.store.survey(survey_id)
        if doc is None:
            raise NotFound("Survey", survey_id)
        return doc

    async def page(self, after: str | None, limit: int) -> list[SurveyDoc]:
        return await self.store.list_surveys(after, limit + 1)

    async def set_after_orders(self, survey_id: str, after_orders: bool) -> SurveyDoc:
        doc: SurveyDoc = {**await self.get(survey_id), "after_orders": after_orders, "updated_at": now_ms()}
        await self.store.replace_survey(doc)
        return doc

    def link(self, survey_id: str, customer_id: str) -> str:
        expires = now_ms() + timedelta(days=self.settings.survey_link_days)
        token = rules.token(self.secret, survey_id, customer_id, expires)
        return f"{self.settings.public_url.rstrip('/')}/survey/{token}"

    async def send(self, survey_id: str, customer_ids: list[str] | None, segment_id: str | None) -> Sent:
        """Queues the survey mail to each customer (once per survey and customer, ever)."""
        survey = await self.get(survey_id)
        template = await self.messages.template(survey["template_id"])
        if (customer_ids is None) == (segment_id is None):
            raise Invalid(
                "name either customer_ids or segment_id",
                errors=[{"field": "customer_ids", "message": "exactly one of customer_ids, segment_id"}],
            )
        ids = (
            customer_ids
            if customer_ids is not None
            else await self.store.segment_member_ids(segment_id or "")
        )
        contacts = await self.store.contacts_by_id(ids)
        docs = []
        for customer_id in dict.fromkeys(ids):
            contact = contacts.get(customer_id)
            if contact is None or contact["email"] is None:
                continue
            docs.append(
                self.messages.compose(
                    f"survey:{survey_id}:{customer_id}",
                    template,
                    Recipient(contact["email"], customer_id, contact),
                    survey=(self.link(survey_id, customer_id), survey["question"]),
                )
            )
        before = await self.store.queue(docs)
        return Sent(queued=len(docs) - len(before), not_found=len(set(ids)) - len(docs))

    async def after_order(self, customer_id: str | None, email: str) -> None:
        """order.placed: the surveys sent after orders go to the order's customer (a known
        customer: the answer belongs to one), once per survey and customer."""
        surveys = await self.store.surveys_after_orders()
        if not surveys:
            return
        contact = await self.store.contact(customer_id) if customer_id else None
        contact = contact or await self.store.contact_by_email(email_key(email))
        if contact is None or contact["email"] is None:
            return
        customer_id = contact["_id"]
        for survey in surveys:
            template = await self.store.template(survey["template_id"])
            if template is None:
                continue
            to = Recipient(contact["email"], customer_id, contact)
            link = (self.link(survey["_id"], customer_id), survey["question"])
            key = f"survey:{survey['_id']}:{customer_id}"
            await self.messages.queue_one(self.messages.compose(key, template, to, survey=link))

    async def open(self, token: str) -> tuple[SurveyDoc, str, AnswerDoc | None]:
        """What the link is for: the survey, the customer, and the answer given already."""
        t = rules.read_token(self.secret, token)
        if t is None:
            raise NotFound("Survey link", token[:40])
        if t.expires <= now_ms():
            raise Forbidden("this survey link has expired", slug="survey-link-expired")
        survey = await self.get(t.survey_id)
        return survey, t.customer_id, await self.store.answer(rules.answer_id(t.survey_id, t.customer_id))

    async def answer(self, token: str, score: int, comment: str | None) -> AnswerDoc:
        """Records the customer's answer. One per survey and customer: a second is refused
        (409), so what was reported stays what was answered."""
        survey, customer_id, given = await self.open(token)
        if given is None:
            doc: AnswerDoc = {
                "_id": rules.answer_id(survey["_id"], customer_id),
                "survey_id": survey["_id"],
                "customer_id": customer_id,
                "score": score,
                "comment": comment or None,
                "at": now_ms(),
            }
            recorded = SurveyResponseRecorded(
                survey_id=doc["survey_id"],
                customer_id=customer_id,
                score=score,
                category=rules.category(score),
                comment=doc["comment"],
                at=doc["at"],
            )
            event = new_event(
                EventType.SURVEY_RESPONSE_RECORDED,
                self.settings.source,
                recorded,
                subject=customer_id,
                id=doc["_id"],
            )
            if await self.store.add_answer(doc, [event]):
                return doc
        raise Conflict(
            "survey-answered", "Answered already", "this survey was answered already with this link"
        )

    async def results(
        self,
        survey_id: str,
        *,
        period: Period | None,
        segment_id: str | None,
        since: datetime | None,
        until: datetime | None,
    ) -> dict[str, Any]:
        """NPS (and the average score) of the answers in [since, until), of the customers in
        `segment_id` now if named; per period too if asked."""
        survey = await self.get(survey_id)
        answers = await self.store.answers_to(survey_id)
        if segment_id is not None:
            members = set(await self.store.segment_member_ids(segment_id))
            answers = [a for a in answers if a["customer_id"] in members]
        answers = [
            a for a in answers if (since is None or a["at"] >= since) and (until is None or a["at"] < until)
        ]
        out: dict[str, Any] = {
            "survey_id": survey["_id"],
            "kind": survey["kind"],
            "segment_id": segment_id,
            **rules.summary(a["score"] for a in answers),
        }
        if period is not None:
            by: dict[str, list[int]] = defaultdict(list)
            for a in answers:
                by[rules.period_of(a["at"], period)].append(a["score"])
            out["periods"] = [{"period": p, **rules.summary(by[p])} for p in sorted(by)]
        return out

    async def answers_of(self, customer_id: str) -> list[dict[str, Any]]:
        """For an export: the customer's answers."""
        return [
            {"survey_id": a["survey_id"], "score": a["score"], "comment": a["comment"], "at": a["at"]}
            for a in sorted(await self.store.answers_of(customer_id), key=lambda a: a["at"])
        ]

    async def erase(self, customer_id: str) -> dict[str, int]:
        return {"survey_answers": await self.store.erase_answers(customer_id)}
