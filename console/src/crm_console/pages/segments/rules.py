"""A rule the segments service refused, as the editor shows it: the parser's message and the
spot it points at, re-printed with a caret under the column."""

from dataclasses import dataclass
from typing import Any

from crm_console.backend import ApiError

_BEFORE, _AFTER = 60, 30  # characters kept around the spot on a long line


@dataclass(frozen=True)
class RuleSpot:
    message: str  # the parser's words, without the position
    line: int | None  # 1-based; None when the service named no position
    column: int | None
    excerpt: str  # the line of the rule at the spot (maybe cut to a window around it)
    caret: str  # spaces and a ^ under the column of `excerpt`


def rule_spot(rule: str, e: ApiError) -> RuleSpot | None:
    """The spot of an `invalid-rule` problem (`position: {line, column, offset}`), or None if the
    problem is about something else (or concerns no rule)."""
    if e.slug != "invalid-rule":
        return None
    entry: dict[str, Any] = next(
        (x for x in e.problem.get("errors") or [] if isinstance(x, dict) and x.get("field") == "rule"), {}
    )
    message = str(entry.get("message") or e.message)
    pos = e.problem.get("position")
    if not isinstance(pos, dict) or not isinstance(pos.get("line"), int):
        return RuleSpot(message, None, None, "", "")
    line, column = pos["line"], int(pos.get("column") or 1)
    lines = rule.split("\n")
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    text = text.replace("\t", " ").rstrip("\r")  # one character, one column
    at = max(column - 1, 0)
    start = max(at - _BEFORE, 0)
    excerpt = text[start : at + _AFTER]
    lead = ""
    if start:
        lead, excerpt = "…", "…" + excerpt
    if at + _AFTER < len(text):
        excerpt += "…"
    return RuleSpot(message, line, column, excerpt, " " * (len(lead) + at - start) + "^")
