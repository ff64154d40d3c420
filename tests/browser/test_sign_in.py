"""Signing in to the console: staff accounts of their own, a session cookie the page's scripts
cannot read, lock-out after repeated failures, roles, sign-out."""

import httpx
from console_support import Console, Staff, screenshot, sign_in
from playwright.sync_api import Page, expect


def test_a_page_asks_for_sign_in_and_returns_there_after_it(anonymous: Page, console: Console):
    anonymous.goto("/groups")
    expect(anonymous).to_have_url(f"{console.url}/sign-in?next=/groups")
    screenshot(anonymous, "sign-in")
    anonymous.get_by_label("E-mail").fill(console.admin.email.upper())  # case does not matter
    anonymous.get_by_label("Password").fill(console.admin.password)
    anonymous.get_by_label("Password").press("Enter")  # the keyboard is enough
    expect(anonymous).to_have_url(f"{console.url}/groups")
    expect(anonymous.get_by_text("admin", exact=True)).to_be_visible()

    cookie = next(c for c in anonymous.context.cookies() if c["name"] == "crm_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert anonymous.evaluate("document.cookie") == ""  # no script on the page can read it


def test_a_wrong_password_is_refused_and_repeated_failures_lock_the_account(
    anonymous: Page, console: Console
):
    staff = console.create_staff("viewer")
    anonymous.goto("/sign-in")
    for _ in range(5):
        anonymous.get_by_label("E-mail").fill(staff.email)
        anonymous.get_by_label("Password").fill("not the password at all")
        anonymous.get_by_role("button", name="Sign in").click()
        expect(anonymous.get_by_role("alert")).to_contain_text("Wrong e-mail or password")
    expect(anonymous).to_have_url(f"{console.url}/sign-in")
    # Locked now: the right password is refused too, with the reason.
    anonymous.get_by_label("E-mail").fill(staff.email)
    anonymous.get_by_label("Password").fill(staff.password)
    anonymous.get_by_role("button", name="Sign in").click()
    expect(anonymous.get_by_role("alert")).to_contain_text("locked")
    assert not any(c["name"] == "crm_session" for c in anonymous.context.cookies())


def test_an_unknown_email_gets_the_same_answer_as_a_wrong_password(anonymous: Page):
    anonymous.goto("/sign-in")
    anonymous.get_by_label("E-mail").fill("nobody@shop.example")
    anonymous.get_by_label("Password").fill("whatever-it-is-here")
    anonymous.get_by_role("button", name="Sign in").click()
    expect(anonymous.get_by_role("alert")).to_have_text("Wrong e-mail or password.")


def test_sign_out_ends_the_session(admin: Page, console: Console):
    token = next(c["value"] for c in admin.context.cookies() if c["name"] == "crm_session")
    admin.get_by_role("button", name="Sign out").click()
    expect(admin.get_by_role("status")).to_have_text("You are signed out.")
    # The old cookie opens nothing any more, even if it was copied before.
    r = httpx.get(f"{console.url}/customers", cookies={"crm_session": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/sign-in")


def test_a_form_posted_from_another_site_is_refused(admin: Page, console: Console):
    token = next(c["value"] for c in admin.context.cookies() if c["name"] == "crm_session")
    # What a forged form would send: the session cookie, but not the page's CSRF token.
    r = httpx.post(f"{console.url}/staff", cookies={"crm_session": token}, data={"email": "evil@x.example"})
    assert r.status_code == 400 and "out of date" in r.text
    admin.goto("/staff")
    expect(admin.get_by_text("evil@x.example")).to_have_count(0)


def test_an_admin_adds_a_viewer_who_signs_in_with_the_password_shown_once(
    admin: Page, context, console: Console
):
    admin.goto("/staff")
    admin.get_by_label("E-mail").fill("too-short@shop.example")
    admin.get_by_label("Password").fill("short")
    admin.get_by_role("button", name="Add").click()
    expect(admin.locator("#f-password-error")).to_have_text("At least 12 characters")
    expect(admin.get_by_text("too-short@shop.example", exact=True)).to_have_count(0)

    admin.get_by_label("E-mail").fill("new.viewer@shop.example")
    admin.get_by_label("Password").fill("")
    admin.get_by_role("button", name="Add").click()
    password = admin.get_by_test_id("new-password").inner_text()
    screenshot(admin, "staff")
    other = sign_in(
        context.browser.new_context(base_url=console.url).new_page(),
        Staff("new.viewer@shop.example", password, "viewer"),
    )
    expect(other.get_by_text("You are signed in as a viewer")).to_be_visible()
    other.goto("/staff")
    expect(other.get_by_role("heading", name="Not allowed")).to_be_visible()
    other.context.close()


def test_a_deactivated_account_is_signed_out_at_once(admin: Page, context, console: Console):
    staff = console.create_staff("viewer")
    other = sign_in(context.browser.new_context(base_url=console.url).new_page(), staff)
    admin.goto("/staff")
    admin.get_by_role("row").filter(has_text=staff.email).get_by_role("button", name="Deactivate").click()
    expect(admin.get_by_role("status")).to_contain_text("deactivated")
    other.goto("/customers")
    expect(other).to_have_url(f"{console.url}/sign-in?next=/customers")
    other.context.close()
