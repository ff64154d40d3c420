"""The whole HTTP API, as one OpenAPI document merged live from every service's own and shown
with Swagger UI served from this installation (no CDN: it opens on a machine without internet).
Any signed-in role may read it; trying a call out needs the API token, which the console never
hands to the browser."""

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from crm_console.backend import ApiError, ServiceDown
from crm_console.web import Reader, api, page
from crm_servicekit.openapi_merge import merge

router = APIRouter(prefix="/api")


@router.get("")
async def api_page(request: Request, who: Reader) -> Response:
    return page(request, "api.html")


@router.get("/openapi.json")
async def merged_document(request: Request, who: Reader) -> Response:
    urls: dict[str, str] = request.app.state.settings.service_urls
    calls = [api(request).get(name, "/openapi.json") for name in urls]
    answers = await asyncio.gather(*calls, return_exceptions=True)
    documents: dict[str, dict[str, Any]] = {}
    missing = []
    for name, answer in zip(urls, answers, strict=True):
        if isinstance(answer, ServiceDown | ApiError):
            missing.append(name)
        elif isinstance(answer, BaseException):
            raise answer
        else:
            documents[name] = answer
    merged = merge(documents, urls)
    if missing:  # said at the top of the page rather than failing it
        merged["info"]["description"] += f"\n\n**Not answering now, so not shown:** {', '.join(missing)}."
    return JSONResponse(merged)
