"""Paradata in a real Chromium: what the consent page names is what a trial or the questionnaire page
sends. A switch to another tab counts as time away, a copy from the trace and a paste into the comment
are counted (never their text), a browser driven by Playwright is flagged by navigator.webdriver and a
plain one is not, and a study that protects its problem text lets none of it be copied while screen
readers still read it."""

import secrets

import pytest

from studyapp.models import PageVisit, Participant
from tests.test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    TIMEOUT_MS,
    answer_page,
    browser,
    consent_and_read_instructions,
    demo_study,
    entry_url,
    expect,
    new_page,
    sync_api,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
__all__ = ["browser", "demo_study"]  # the fixtures, imported to be used here

#: A desktop Chrome's user agent, for a browser that does not say it is headless.
PLAIN_CHROME = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                "Chrome/131.0.0.0 Safari/537.36")


def start(page, live_server, study) -> Participant:
    pid = secrets.token_hex(12)
    page.goto(entry_url(live_server, study, pid))
    consent_and_read_instructions(page)
    return Participant.objects.get(study=study, prolific_pid=pid)


def real_focus(page) -> None:
    """Playwright tells every page it has the focus (again after each navigation); from here this page
    gets the browser's own, as in a headed browser. Headless Chromium keeps every tab "visible", so a
    switch of tabs shows as the window losing the focus, which the script counts as away just as it
    counts a hidden tab."""
    page.context.new_cdp_session(page).send("Emulation.setFocusEmulationEnabled", {"enabled": False})


def select_the_trace(page) -> str:
    """Select the trace's text as a script can even where the page forbids it; returns the text."""
    return page.locator("div.trace").evaluate(
        "el => { const range = document.createRange(); range.selectNodeContents(el);"
        " const s = window.getSelection(); s.removeAllRanges(); s.addRange(range); return s.toString(); }"
    )


def clipboard(page) -> str:
    return page.evaluate("navigator.clipboard.readText()")


def submit_trial(page, trial: int) -> PageVisit:
    answer_page(page)
    page.get_by_role("button", name="Save and continue").click()
    expect(page.get_by_role("heading", name=f"Problem {trial + 1}")).to_be_visible()
    return PageVisit.objects.get(participant__prolific_pid=page.pid, page=f"trial-{trial}")


def test_the_consent_page_names_the_paradata(browser, live_server, demo_study):
    page, _ = new_page(browser, DESKTOP)
    page.goto(entry_url(live_server, demo_study, secrets.token_hex(12)))
    recorded = page.locator("dt", has_text="What is recorded").locator("xpath=following-sibling::dd[1]")
    for named in ("left the page", "pasted", "copied", "keys", "clicked or tapped",
                  "controlled by software"):
        expect(recorded).to_contain_text(named)
    page.context.close()


def test_time_on_another_tab_a_copy_from_the_trace_and_a_paste_into_the_comment_are_counted(
    browser, live_server, demo_study
):
    page, _ = new_page(browser, DESKTOP)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    participant = start(page, live_server, demo_study)
    real_focus(page)
    page.pid = participant.prolific_pid
    # another tab in front for over a second, then back
    other = page.context.new_page()
    other.bring_to_front()
    other.wait_for_timeout(1200)
    page.bring_to_front()
    other.close()
    trace_text = select_the_trace(page)
    page.keyboard.press("Control+C")
    assert clipboard(page).split()[:5] == trace_text.split()[:5]  # a study that does not protect its text
    visit = submit_trial(page, 1)
    assert visit.away_count == 1 and visit.away_ms >= 1000, (visit.away_count, visit.away_ms)
    assert visit.copy_count == 1 and visit.paste_count == 0
    assert visit.pointer_count >= 8 and visit.key_count >= 1  # the items clicked, the Control+C
    assert visit.automated is True and "webdriver" in visit.automation_signals.split(";")
    for _trial in range(2, 6):
        answer_page(page)
        page.get_by_role("button", name="Save and continue").click()
    expect(page.get_by_role("heading", name="Final questions")).to_be_visible()
    page.evaluate("navigator.clipboard.writeText('An answer written elsewhere.')")
    for fieldset in page.locator("form.ratings fieldset.likert").all():
        fieldset.locator('input[type="radio"]').nth(2).check()
    page.locator("textarea[name=comment]").focus()
    page.keyboard.press("Control+V")
    page.get_by_role("button", name="Finish the study").click()
    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    questionnaire = PageVisit.objects.get(participant=participant, page="questionnaire")
    assert questionnaire.paste_count == 1 and questionnaire.copy_count == 0
    participant.refresh_from_db()
    assert participant.comment == "An answer written elsewhere."  # the answer, as given; paradata count only
    page.context.close()


def test_a_study_that_protects_its_text_lets_none_be_copied_and_screen_readers_still_read_it(
    browser, live_server, demo_study
):
    demo_study.protect_problem_text = True
    demo_study.save()
    page, _ = new_page(browser, DESKTOP)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.pid = start(page, live_server, demo_study).prolific_pid
    trace = page.locator("div.trace")
    page.evaluate("navigator.clipboard.writeText('before')")
    trace.click(click_count=3)  # a triple click selects a paragraph where selecting is allowed
    assert page.evaluate("window.getSelection().toString()") == ""
    trace_text = select_the_trace(page)  # what a script can select, copying refuses
    page.keyboard.press("Control+C")
    assert clipboard(page) == "before"
    assert " ".join(trace_text.split()[:6]) in " ".join(trace.aria_snapshot().split())
    expect(page.locator(".visually-hidden", has_text="Copying is turned off")).to_have_count(1)
    visit = submit_trial(page, 1)
    assert visit.copy_count == 1  # the attempt, counted
    page.context.close()


def test_a_browser_not_driven_by_software_is_not_flagged(live_server, demo_study, monkeypatch):
    if not __import__("pathlib").Path(CHROMIUM).exists():
        pytest.skip(f"No Chromium at {CHROMIUM}")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        plain = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=[*CHROMIUM_ARGS, "--disable-blink-features=AutomationControlled"],
        )
        try:
            context = plain.new_context(viewport=DESKTOP, user_agent=PLAIN_CHROME)
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            page.pid = start(page, live_server, demo_study).prolific_pid
            visit = submit_trial(page, 1)
        finally:
            plain.close()
            __import__("django.db").db.connections.close_all()
    assert visit.automated is False and visit.automation_signals == ""
    assert visit.away_count == 0 and visit.away_ms == 0
