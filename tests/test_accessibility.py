"""Every page a participant sees passes axe-core's checks (WCAG 2.0 to 2.2, A and AA, and axe's best
practices) in Chromium, on a phone and on a desktop, including the page that comes back with errors.

axe-core runs inside the page as shipped in axe-playwright-python (its bundled axe.min.js; nothing is
fetched). Run with STUDY_SCREENSHOT_DIR set to keep a screenshot of every page checked.
"""

import os
import secrets
from pathlib import Path

import pytest

from studyapp.models import Study
from tests.test_browser import (
    DESKTOP,
    PHONE,
    answer_page,
    browser,
    consent_and_read_instructions,
    demo_study,
    entry_url,
    expect,
    likert_items,
    new_page,
)

__all__ = ["browser", "demo_study"]  # the fixtures, imported to be used here

axe_sync = pytest.importorskip("axe_playwright_python.sync_playwright")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

#: the rules run: WCAG 2.0, 2.1 and 2.2 at levels A and AA, and axe's best practices
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": [
    "wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]}}


def axe_violations(page, name: str) -> list[str]:
    """axe-core's violations on the page as it is now, one line each (rule, impact, where)."""
    page.wait_for_load_state("load")  # the styled page: colour contrast needs the stylesheet
    shots = os.environ.get("STUDY_SCREENSHOT_DIR")
    if shots:
        page.screenshot(path=str(Path(shots) / f"axe-{name}.png"), full_page=True)
    results = axe_sync.Axe().run(page, options=AXE_OPTIONS)
    assert len(results.response["passes"]) > 10, f"{name}: axe ran almost no rule"
    return [
        f"{name}: {violation['id']} ({violation['impact']}) at "
        f"{', '.join(str(node['target']) for node in violation['nodes'][:3])}"
        for violation in results.response["violations"]
    ]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_every_participant_page_has_no_axe_violations(browser, live_server, demo_study, viewport):
    page, _ = new_page(browser, viewport)
    page.goto(entry_url(live_server, demo_study, secrets.token_hex(12)))
    size = "phone" if viewport is PHONE else "desktop"
    found = axe_violations(page, f"{size}-consent")

    page.get_by_text("Yes, I agree to take part").click()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Instructions")).to_be_visible()
    found += axe_violations(page, f"{size}-instructions")
    page.get_by_role("button", name="Start the first problem").click()

    expect(page.get_by_role("heading", name="Problem 1")).to_be_visible()
    found += axe_violations(page, f"{size}-trial")
    # sent without answers (the browser's own check turned off): the page with its error summary
    page.locator("form.ratings").evaluate("form => { form.noValidate = true; }")
    page.get_by_role("button", name="Save and continue").click()
    expect(page.locator("#error-summary")).to_be_focused()
    found += axe_violations(page, f"{size}-trial-errors")

    for trial in range(1, 6):
        expect(page.get_by_role("heading", name=f"Problem {trial}")).to_be_visible()
        answer_page(page)
        page.get_by_role("button", name="Save and continue").click()
    expect(page.get_by_role("heading", name="Final questions")).to_be_visible()
    found += axe_violations(page, f"{size}-questionnaire")
    for fieldset in likert_items(page):
        fieldset.get_by_role("radio").nth(2).check()
    page.get_by_role("button", name="Finish the study").click()
    expect(page.locator(".completion-code")).to_have_text("DEMO-COMPLETE")
    found += axe_violations(page, f"{size}-done")
    page.context.close()
    assert found == [], "\n".join(found)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_step_question_of_a_step_rating_study_has_no_axe_violations(browser, live_server, demo_study,
                                                                        viewport):
    """A trial page of a step-rating study: the trace as numbered steps and the question of the first
    wrong step (a fieldset of radios), as shown and as sent back for want of a mark."""
    Study.objects.filter(pk=demo_study.pk).update(step_rating=True)
    page, _ = new_page(browser, viewport)
    page.goto(entry_url(live_server, demo_study, secrets.token_hex(12)))
    size = "phone" if viewport is PHONE else "desktop"
    consent_and_read_instructions(page)
    expect(page.get_by_role("heading", name="Problem 1")).to_be_visible()
    expect(page.get_by_role("radio", name="Step 1", exact=True)).to_be_visible()
    found = axe_violations(page, f"{size}-step-trial")
    # the ratings answered, no step marked (the browser's own check turned off): sent back with the error
    answer_page(page)
    page.locator("form.ratings").evaluate("form => { form.noValidate = true; }")
    page.get_by_role("button", name="Save and continue").click()
    expect(page.locator("#error-summary")).to_be_focused()
    question = "Which step of the text is the first one that is wrong?"
    expect(page.locator("#error-summary").get_by_role("link", name=question)).to_be_visible()
    found += axe_violations(page, f"{size}-step-trial-errors")
    page.context.close()
    assert found == [], "\n".join(found)
