"""The pre-built templates, created at first start (staff may edit them; a deleted one comes
back at the next start)."""

from typing import TypedDict

from crm_engagement.domain.documents import MailKind


class Builtin(TypedDict):
    id: str
    name: str
    kind: MailKind
    subject: str
    html: str
    text: str


_FOOT_HTML = '<p style="font-size:12px;color:#777">{{ shop_name }}{% if unsubscribe_url %} · <a href="{{ unsubscribe_url }}">Unsubscribe</a>{% endif %}</p>'
_FOOT_TEXT = "\n--\n{{ shop_name }}{% if unsubscribe_url %}\nUnsubscribe: {{ unsubscribe_url }}{% endif %}\n"

BUILTIN: list[Builtin] = [
    {
        "id": "tpl_welcome",
        "name": "Welcome",
        "kind": "transactional",
        "subject": "Welcome to {{ shop_name }}, {{ customer.first_name or 'friend' }}!",
        "html": "<h1>Welcome, {{ customer.first_name or 'friend' }}!</h1>"
        "<p>Your account at {{ shop_name }} is ready.</p>" + _FOOT_HTML,
        "text": "Welcome, {{ customer.first_name or 'friend' }}!\n\nYour account at {{ shop_name }} is ready.\n"
        + _FOOT_TEXT,
    },
    {
        "id": "tpl_thank_you",
        "name": "Thank you for your order",
        "kind": "transactional",
        "subject": "Thank you for your order {{ order.order_id }}",
        "html": "<h1>Thank you, {{ customer.first_name or 'friend' }}!</h1>"
        "<p>We received your order {{ order.order_id }} of {{ order.total }}.</p><ul>"
        "{% for item in order.lines %}<li>{{ item.quantity }} × {{ item.name }} ({{ item.unit_price }})</li>{% endfor %}"
        "</ul>" + _FOOT_HTML,
        "text": "Thank you, {{ customer.first_name or 'friend' }}!\n\nWe received your order {{ order.order_id }}"
        " of {{ order.total }}.\n{% for item in order.lines %}- {{ item.quantity }} x {{ item.name }}"
        " ({{ item.unit_price }})\n{% endfor %}" + _FOOT_TEXT,
    },
    {
        "id": "tpl_recommendations",
        "name": "Product recommendations",
        "kind": "marketing",
        "subject": "Picked for you, {{ customer.first_name or 'friend' }}",
        "html": "<h1>New in {% if customer.categories %}{{ customer.categories | join(', ') }}{% else %}our shop{% endif %}</h1>"
        "<p>We thought you might like what just arrived.</p>" + _FOOT_HTML,
        "text": "New in {% if customer.categories %}{{ customer.categories | join(', ') }}{% else %}our shop{% endif %}\n\n"
        "We thought you might like what just arrived.\n" + _FOOT_TEXT,
    },
    {
        "id": "tpl_special_offer",
        "name": "Special offer",
        "kind": "marketing",
        "subject": "A special offer for you, {{ customer.first_name or 'friend' }}",
        "html": "<h1>Just for you</h1><p>Enjoy a special offer at {{ shop_name }} this week.</p>"
        + _FOOT_HTML,
        "text": "Just for you\n\nEnjoy a special offer at {{ shop_name }} this week.\n" + _FOOT_TEXT,
    },
    {
        "id": "tpl_re_engagement",
        "name": "We miss you",
        "kind": "marketing",
        "subject": "We miss you, {{ customer.first_name or 'friend' }}",
        "html": "<h1>It has been a while</h1><p>See what is new at {{ shop_name }}.</p>" + _FOOT_HTML,
        "text": "It has been a while\n\nSee what is new at {{ shop_name }}.\n" + _FOOT_TEXT,
    },
]

AUTOMATIONS: dict[str, str] = {"welcome": "tpl_welcome", "thank_you": "tpl_thank_you"}
"""Automation -> its default template. welcome: on customer.created with an account, or
customer.registered; thank_you: on order.placed. Each once per cause."""
