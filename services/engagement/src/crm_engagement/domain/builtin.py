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


_FOOT_HTML = (
    '<p style="font-size:12px;color:#777">{{ shop_name }}{% if unsubscribe_url %} · <a href="{{ unsubscribe_url }}">Unsubscribe</a>{% endif %}'
    '{% if preferences_url %} · <a href="{{ preferences_url }}">Your preferences</a>{% endif %}</p>'
)
_FOOT_TEXT = (
    "\n--\n{{ shop_name }}{% if unsubscribe_url %}\nUnsubscribe: {{ unsubscribe_url }}{% endif %}"
    "{% if preferences_url %}\nYour preferences: {{ preferences_url }}{% endif %}\n"
)

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

BUILTIN.append(
    {
        "id": "tpl_survey",
        "name": "Survey (0-10)",
        # Feedback on the service bought, not promotion: sent without marketing consent. Pick a
        # marketing template for a survey that should honour consent and the frequency limit.
        "kind": "transactional",
        "subject": "{{ customer.first_name or 'Hello' }}, one quick question from {{ shop_name }}",
        "html": "<p>{{ survey_question }}</p><p>"
        "{% for n in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10] %}"
        '<a href="{{ survey_url }}?score={{ n }}" style="display:inline-block;padding:6px 9px;'
        'border:1px solid #999;margin:2px;text-decoration:none">{{ n }}</a>{% endfor %}</p>'
        "<p>0 = not at all, 10 = extremely. The link is yours alone; please do not forward it.</p>"
        + _FOOT_HTML,
        "text": "{{ survey_question }}\n\nAnswer from 0 (not at all) to 10 (extremely): {{ survey_url }}\n"
        + _FOOT_TEXT,
    }
)

BUILTIN.append(
    {
        "id": "tpl_review_request",
        "name": "How was your order?",
        # About a purchase the customer made, nothing promoted: sent without marketing consent.
        "kind": "transactional",
        "subject": "How do you like your order {{ order.order_id }}?",
        "html": "<h1>Hello {{ customer.first_name or 'there' }},</h1><p>How do you like what you bought?</p><ul>"
        "{% for item in order.lines %}<li>{{ item.name }}</li>{% endfor %}</ul>"
        "<p>A short review helps other customers choose.</p>" + _FOOT_HTML,
        "text": "Hello {{ customer.first_name or 'there' }},\n\nHow do you like what you bought?\n"
        "{% for item in order.lines %}- {{ item.name }}\n{% endfor %}\nA short review helps other customers choose.\n"
        + _FOOT_TEXT,
    }
)

AUTOMATIONS: dict[str, str] = {
    "welcome": "tpl_welcome",
    "thank_you": "tpl_thank_you",
    "review_request": "tpl_review_request",
    "re_engagement": "tpl_re_engagement",
}
"""Automation -> its default template. welcome: on customer.created with an account, or
customer.registered; thank_you: on order.placed; review_request: some days after an order;
re_engagement: when a customer joins the chosen segment. Each once per cause."""

OFF_AT_FIRST = ("review_request", "re_engagement")
"""Off after the first start: they need a choice first (a delay, a segment)."""
