"""End to end in Debian's headless Chromium (Playwright), against a live server on SQLite
and, where ``METAVERDICT_TEST_POSTGRES_URL`` is set, PostgreSQL: open a treatment, read the
bottom line, open a question and see its plot, log in, add a study, see the answer change,
log out and be refused an edit. Screenshots at 375 px and 1280 px go to
``/tmp/metaverdict-screenshots``.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from web_fixtures import (
    HEEL_QUESTION,
    NEW_TRIAL,
    PASSWORD,
    live_server,
    postgres_database,
    seeded_store,
)

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path("/tmp/metaverdict-screenshots")
WIDTHS = (375, 1280)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield b
        b.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(backend, base URL) of a live server on a fresh, seeded store with the test users."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'evidence.sqlite'}"
        seeded_store(url).close()
        with live_server(url) as base:
            yield "sqlite", base
        return
    pg = request.getfixturevalue("postgres_url")
    with postgres_database(pg) as url:
        seeded_store(url).close()
        with live_server(url) as base:
            yield "postgres", base


def shoot(page: Page, name: str) -> None:
    """Screenshots of the current page at both widths (the page's own width afterwards)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for w in WIDTHS:
        page.set_viewport_size({"width": w, "height": 900})
        page.screenshot(path=str(SHOTS / f"{name}-{w}.png"), full_page=False)
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= w + 1, f"{name} at {w} px scrolls sideways ({overflow} px wide)"
    page.set_viewport_size({"width": 1280, "height": 900})


def test_read_log_in_add_a_study_see_the_answer_change(browser: Browser,
                                                      server: tuple[str, str]) -> None:
    backend, base = server
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(60_000)

    # open a treatment and read the bottom line
    page.goto(base + "/")
    shoot(page, f"{backend}-home")
    page.get_by_role("link", name="Dry needling", exact=True).click()
    expect(page.locator("#treatment-title")).to_have_text("Dry needling")
    first = page.locator("#bottom-table tbody tr").first
    expect(first.locator("td.q")).to_contain_text("Pain vs sham or placebo")
    expect(first.locator("td.line .tone")).to_be_visible()
    heel = page.locator("#bottom-table tr", has_text="Plantar heel pain").first
    expect(heel).to_contain_text("may reduce pain slightly")
    shoot(page, f"{backend}-treatment")

    # open a question and see its plot
    heel.locator("td.line a.tone").click()
    expect(page).to_have_url(base + HEEL_QUESTION)
    expect(page.locator("#headline")).to_have_text("may reduce pain slightly")
    plot = page.locator("figure.plot svg").first
    expect(plot).to_be_visible()
    assert plot.bounding_box()["height"] > 50                      # type: ignore[index]
    expect(page.locator("#grade-domains")).to_contain_text("Imprecision")
    shoot(page, f"{backend}-question")

    # log in (from the page the visitor is on)
    page.get_by_role("link", name="Log in").click()
    page.fill("#username", "ada")
    page.fill("#password", PASSWORD)
    shoot(page, f"{backend}-login")
    page.click("#login-submit")
    expect(page.locator("#who")).to_contain_text("ada")
    expect(page).to_have_url(base + HEEL_QUESTION)

    # add a study through the form
    page.get_by_role("link", name="Add a study").click()
    for name, value in NEW_TRIAL.items():
        field = page.locator(f"#f-{name}")
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    shoot(page, f"{backend}-form")
    page.click("#save")
    changes = page.locator("#changes")
    expect(changes).to_contain_text("verdict changed from benefit below the MCID to no "
                                    "significant difference")
    expect(changes).to_contain_text("Why: trial smith2025 was added")
    shoot(page, f"{backend}-change")

    # the answer has changed on the question page
    changes.get_by_role("link", name="plantar heel pain").first.click()
    expect(page.locator("#headline")).to_have_text("the evidence is very uncertain")
    expect(page.locator("#chosen-source")).to_contain_text("smith2025")

    # log out, and be refused an edit
    page.click("#logout")
    expect(page.locator("#login-link")).to_be_visible()
    response = page.goto(base + "/edit/study")
    assert response is not None and response.status == 401
    expect(page.locator("#error-message")).to_contain_text("log in as an editor".capitalize())
    status = page.evaluate("""async () => (await fetch('/api/studies', {method: 'POST',
        headers: {'content-type': 'application/json'}, body: '{}'})).status""")
    assert status == 401
    shoot(page, f"{backend}-refused")
    page.close()
