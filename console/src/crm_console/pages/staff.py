"""Staff accounts (admins only): who may sign in, with which role."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from crm_console.auth import generate_password
from crm_console.web import Admin, accounts, page, redirect
from crm_servicekit.errors import DomainError

router = APIRouter(prefix="/staff")


@router.get("")
async def list_staff(request: Request, who: Admin) -> Response:
    return page(request, "staff.html", staff=await accounts(request).list())


@router.post("")
async def create_staff(
    request: Request,
    who: Admin,
    email: Annotated[str, Form(max_length=200)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=20)] = "viewer",
    password: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    generated = not password
    password = password or generate_password()
    try:
        await accounts(request).create(email, password, role, name)
    except DomainError as e:
        errors = {x["field"]: x["message"] for x in e.extra.get("errors", [])} or {"": e.detail or e.title}
        values = {"email": email, "name": name, "role": role}
        return page(
            request, "staff.html", 422, staff=await accounts(request).list(), errors=errors, values=values
        )
    # A generated password is shown this once, to be handed over; it is stored only as a hash.
    return page(
        request,
        "staff.html",
        201,
        staff=await accounts(request).list(),
        created={"email": email.strip(), "password": password if generated else None},
    )


@router.post("/{staff_id}/active")
async def set_active(
    request: Request, staff_id: str, who: Admin, active: Annotated[str, Form()] = ""
) -> Response:
    await accounts(request).set_active(who, staff_id, active == "true")
    return redirect(
        "/staff", "Account activated." if active == "true" else "Account deactivated; its sessions ended."
    )
