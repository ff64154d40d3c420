"""The segment query language (docs/contract.md §3): parse, then compile to a MongoDB filter and a
Python predicate that agree."""

from crm_segments.domain.rules.compile import Compiled, compile_rule
from crm_segments.domain.rules.syntax import Node, Position, RuleError, has_relative_dates, parse, render

__all__ = [
    "Compiled",
    "compile_rule",
    "Node",
    "Position",
    "RuleError",
    "has_relative_dates",
    "parse",
    "render",
]
