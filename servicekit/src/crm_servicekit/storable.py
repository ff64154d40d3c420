"""What the database can store: no string may hold U+0000 (NUL).

PostgreSQL's jsonb cannot hold it, so FerretDB on PostgreSQL refuses the whole write ("unsupported
Unicode escape sequence"); MongoDB refuses NUL in keys. A request or an event carrying one is
refused up front (422 / dead-lettered) instead of failing half-way at the first write.
"""

from typing import Any
from urllib.parse import unquote

NUL = "\x00"


def has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False


def may_have_nul(raw: bytes) -> bool:
    """Cheap test of a JSON body before parsing it: NUL is written raw or as \\u0000."""
    return b"\x00" in raw or b"\\u0000" in raw


def url_has_nul(path: str, query: str) -> bool:
    return NUL in unquote(path) or NUL in unquote(query)
