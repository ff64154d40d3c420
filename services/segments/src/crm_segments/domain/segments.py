"""Segment definitions: a valid rule, a new segment, an edit, and what their events carry."""

from datetime import datetime
from typing import TypedDict

from crm_segments.domain.documents import Segment
from crm_segments.domain.rules import Node, RuleError, parse
from crm_servicekit.errors import Invalid


def parse_rule(rule: str) -> Node:
    """The rule's tree, or Invalid (422 `invalid-rule`) naming the position of the first error."""
    try:
        return parse(rule)
    except RuleError as e:
        pos = {"line": e.position.line, "column": e.position.column, "offset": e.position.offset}
        about = {"attribute": e.attribute} if e.attribute else {}
        raise Invalid(
            f"rule: {e}",
            slug="invalid-rule",
            title="Invalid segment rule",
            errors=[{"field": "rule", "message": e.message, **pos, **about}],
            position=pos,
            **about,
        ) from None


def new_segment(segment_id: str, name: str, rule: str, now: datetime) -> Segment:
    """Version 1 of a segment; `rule` was checked with parse_rule."""
    return {
        "_id": segment_id,
        "id": segment_id,
        "version": 1,
        "name": name,
        "rule": rule,
        "created_at": now,
        "updated_at": now,
    }


def edited(
    segment: Segment, now: datetime, name: str | None = None, rule: str | None = None
) -> Segment | None:
    """The next version with the name and/or rule given, or None if nothing would change."""
    new_name = segment["name"] if name is None else name
    new_rule = segment["rule"] if rule is None else rule
    if new_name == segment["name"] and new_rule == segment["rule"]:
        return None
    return {
        **segment,
        "name": new_name,
        "rule": new_rule,
        "version": segment["version"] + 1,
        "updated_at": now,
    }


class SegmentView(TypedDict):
    """A segment as its events and the API show it."""

    id: str
    version: int
    name: str
    rule: str
    created_at: datetime
    updated_at: datetime


def view(segment: Segment) -> SegmentView:
    return {
        "id": segment["id"],
        "version": segment["version"],
        "name": segment["name"],
        "rule": segment["rule"],
        "created_at": segment["created_at"],
        "updated_at": segment["updated_at"],
    }
