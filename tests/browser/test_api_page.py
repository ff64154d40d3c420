"""Issue 20: the console shows the whole API, merged live from the services' documents, with
Swagger UI served by the console itself (no CDN), under the console's strict CSP."""

from console_support import screenshot
from playwright.sync_api import Page, expect


def test_the_api_page_shows_every_running_service_and_names_the_one_that_is_not(viewer: Page):
    errors: list[str] = []
    viewer.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    viewer.get_by_role("link", name="API").click()
    expect(viewer.get_by_role("heading", name="API", exact=True)).to_be_visible()
    ui = viewer.locator("#swagger-ui")
    # The merged document is about half a megabyte: Swagger UI takes a while to lay it out.
    expect(ui.locator("#operations-tag-customers")).to_be_visible(timeout=60_000)
    for service in ("groups", "ledger", "segments"):  # the tags, one per service
        expect(ui.locator(f"#operations-tag-{service}")).to_be_visible()
    expect(ui.locator("#operations-tag-engagement")).to_have_count(0)
    expect(ui).to_contain_text("/v1/customers/{customer_id}")
    expect(ui).to_contain_text("Not answering now, so not shown: engagement")  # not started here
    ui.get_by_text("/v1/customers/{customer_id}", exact=True).first.click()  # an operation opens
    expect(ui.get_by_text("ProblemDetails").first).to_be_visible()
    screenshot(viewer, "api", full_page=False)  # the whole API is some metres long
    assert not [e for e in errors if "Content Security Policy" in e], errors
