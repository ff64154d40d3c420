"""The metadata editor: the table's rows (key, value) in, the whole metadata out. The groups
API merges a PATCH (a key set to null goes), so saving sends what changed and nulls for the
keys whose rows were deleted; its 422s name `metadata.<key>`, shown beside that key's row."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from crm_console.backend import ApiError
from crm_console.pages.groups.view import group_page, metadata_rows
from crm_console.web import Changer, api, redirect

router = APIRouter(prefix="/groups")

Texts = Annotated[list[str] | None, Form(max_length=200)]


def _typed(text: str, old: Any) -> Any:
    """A value as it was typed, except that an unchanged number or boolean keeps its type
    (the table shows them as text)."""
    if old is not None and not isinstance(old, str) and metadata_rows({"k": old})[0]["value"] == text:
        return old
    return text


def read_rows(keys: list[str], values: list[str]) -> list[dict[str, Any]]:
    values = values + [""] * (len(keys) - len(values))
    return [{"key": k.strip(), "value": v} for k, v in zip(keys, values, strict=False)]


def check_rows(rows: list[dict[str, Any]]) -> dict[str, str]:
    """Row errors the console can tell by itself: a value without a key, a key twice.
    Keys of the errors are `row.<index>` (the table shows them beside the row)."""
    errors: dict[str, str] = {}
    first: dict[str, int] = {}
    for i, row in enumerate(rows):
        if not row["key"] and row["value"]:
            errors[f"row.{i}"] = "A value needs a key."
        elif row["key"] in first:
            errors[f"row.{i}"] = f"The key {row['key']} is already in row {first[row['key']] + 1}."
        elif row["key"]:
            first[row["key"]] = i
    return errors


def api_row_errors(e: ApiError, rows: list[dict[str, Any]]) -> dict[str, str]:
    where = {row["key"]: i for i, row in enumerate(rows) if row["key"]}
    errors: dict[str, str] = {}
    for field, message in e.field_errors.items():
        key = field.removeprefix("metadata.")
        if field.startswith("metadata.") and key in where:
            errors.setdefault(f"row.{where[key]}", message)
        else:
            errors.setdefault("", f"{field}: {message}")
    return errors or {"": e.message}


@router.post("/{group_id}/metadata")
async def save_metadata(
    request: Request, group_id: str, who: Changer, key: Texts = None, value: Texts = None
) -> Response:
    rows = read_rows(key or [], value or [])
    kept = [r for r in rows if r["key"] or r["value"]]
    errors = check_rows(kept)
    if errors:
        return await group_page(request, group_id, 422, section="metadata", errors=errors, meta_rows=kept)
    calls = api(request)
    old: dict[str, Any] = (await calls.get("groups", f"/v1/groups/{group_id}"))["metadata"]
    new = {r["key"]: _typed(r["value"], old.get(r["key"])) for r in kept}
    patch: dict[str, Any] = {k: v for k, v in new.items() if k not in old or old[k] != v}
    patch.update({k: None for k in old if k not in new})
    if not patch:
        return redirect(f"/groups/{group_id}", "Metadata unchanged.")
    try:
        await calls.patch("groups", f"/v1/groups/{group_id}", json={"metadata": patch})
    except ApiError as e:
        if e.status != 422:
            raise
        errors = api_row_errors(e, kept)
        return await group_page(
            request, group_id, 422, section="metadata", errors=errors, meta_rows=kept or metadata_rows({})
        )
    return redirect(f"/groups/{group_id}", "Metadata saved.")
