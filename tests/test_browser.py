"""A participant takes the demo study in a real Chromium, and what the browser did lands in the database.

Runs Debian's Chromium (/usr/bin/chromium) through Playwright against pytest-django's live server.
Prolific is never contacted: requests to app.prolific.com are answered by the test itself.
Set STUDY_SCREENSHOT_DIR to keep a screenshot of a trial page at desktop and phone size.
"""

import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connections

from studyapp.demo import seed_demo
from studyapp.models import PageVisit, Participant, Response, Study
from studyapp.questionnaire import AGREEMENT, DISAGREE_VALUE

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PROLIFIC_PATTERN = "https://app.prolific.com/**"
EXPECTED_RETURN = "https://app.prolific.com/submissions/complete?cc=DEMO-COMPLETE"
ATTENTION_TEXT = "please select 'Disagree'"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 10_000


@pytest.fixture
def browser(monkeypatch) -> Iterator:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"No Chromium at {CHROMIUM}")
    # Playwright's sync API runs an event loop in this thread; the ORM calls made by the test
    # (seeding, the final checks) would otherwise be refused as "async unsafe".
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
            # Playwright runs this code in a greenlet with its own context variables, so the ORM
            # opened a connection of its own here; close it, or the test database cannot be dropped.
            connections.close_all()


@pytest.fixture
def demo_study(transactional_db) -> Study:
    study = seed_demo().study
    assert study.stimuli.count() == 16, "seed_demo should create the 16 pilot problems"
    return study


def new_page(browser, viewport: dict) -> tuple:
    """A fresh browser context whose requests to Prolific are answered locally and recorded."""
    context = browser.new_context(viewport=viewport)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    prolific_urls: list[str] = []

    def fulfil_prolific(route) -> None:
        prolific_urls.append(route.request.url)
        route.fulfill(
            status=200,
            content_type="text/html",
            body="<!doctype html><title>Prolific</title><h1>Submission complete (stub)</h1>",
        )

    page.route(PROLIFIC_PATTERN, fulfil_prolific)
    return page, prolific_urls


def entry_url(live_server, study: Study, pid: str) -> str:
    return (
        f"{live_server.url}/study/{study.slug}/?PROLIFIC_PID={pid}"
        f"&STUDY_ID={secrets.token_hex(12)}&SESSION_ID={secrets.token_hex(8)}"
    )


def consent_and_read_instructions(page) -> None:
    expect(page.get_by_role("heading", name="Consent to take part")).to_be_visible()
    page.get_by_text("Yes, I agree to take part").click()
    expect(page.get_by_role("radio", name="Yes, I agree to take part")).to_be_checked()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Instructions")).to_be_visible()
    page.get_by_role("button", name="Start the first problem").click()


def likert_items(page) -> list:
    """The Likert fieldsets of the page's rating form, in the order shown."""
    return page.locator("form.ratings fieldset.likert").all()


def item_code(fieldset) -> str:
    name = fieldset.get_by_role("radio").first.get_attribute("name")
    assert name and name.startswith("item-"), f"Unexpected radio name {name!r}"
    return name.removeprefix("item-")


def answer_by_click(fieldset, value: int) -> None:
    """Click the label of the option with this value, found by its visible text."""
    labels = fieldset.locator(".likert-option span").all_inner_texts()
    assert len(labels) == 5, f"Expected 5 options, got {labels!r}"
    fieldset.get_by_text(labels[value - 1], exact=True).click()
    expect(fieldset.locator("input:checked"), f"clicking {labels[value - 1]!r}").to_have_value(str(value))


def answer_by_keyboard(page, fieldset) -> int:
    """Focus the first radio, select it with Space, then move with the arrow keys; returns the value."""
    fieldset.get_by_role("radio").first.focus()
    page.keyboard.press("Space")
    expect(fieldset.locator("input:checked"), "Space on a focused radio").to_have_value("1")
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowDown")
    expect(fieldset.locator("input:checked"), "arrow keys in a radio group").to_have_value("4")
    return 4


def test_participant_completes_demo_study(browser, live_server, demo_study):
    screenshot_dir = os.environ.get("STUDY_SCREENSHOT_DIR")
    pid = secrets.token_hex(12)
    page, prolific_urls = new_page(browser, DESKTOP)
    page.goto(entry_url(live_server, demo_study, pid))
    consent_and_read_instructions(page)

    clicked: dict[tuple[int | None, str], int] = {}  # (stimulus id, item code) -> value chosen
    positions: dict[tuple[int | None, str], int] = {}
    seen_stimuli: list[int] = []
    attention_seen_on: list[int] = []
    for trial in range(1, 6):
        expect(page, f"trial {trial} URL").to_have_url(re.compile(rf"/trial-{trial}/$"))
        expect(page.locator(".progress-label")).to_have_text(f"Trial {trial} of 5")
        expect(page.get_by_role("heading", name=f"Problem {trial}")).to_be_visible()
        trace = page.locator("div.trace")
        expect(trace, "the trace panel").to_be_visible()
        expect(trace, "the trace panel has text").not_to_have_text("")
        stimulus_id = int(page.locator("input[name=stimulus]").get_attribute("value"))
        seen_stimuli.append(stimulus_id)

        fieldsets = likert_items(page)
        assert len(fieldsets) in (8, 9), f"Trial {trial}: expected 8 or 9 items, found {len(fieldsets)}"
        for position, fieldset in enumerate(fieldsets, start=1):
            code = item_code(fieldset)
            legend = fieldset.locator("legend").inner_text()
            if ATTENTION_TEXT in legend:
                attention_seen_on.append(trial)
                assert fieldset.locator(".likert-option span").all_inner_texts() == AGREEMENT
                answer_by_click(fieldset, DISAGREE_VALUE)
                value = DISAGREE_VALUE
            elif trial == 1 and position == 1:
                value = answer_by_keyboard(page, fieldset)
            else:
                value = (trial + position) % 5 + 1
                answer_by_click(fieldset, value)
            clicked[(stimulus_id, code)] = value
            positions[(stimulus_id, code)] = position

        if trial == 1 and screenshot_dir:
            page.screenshot(path=str(Path(screenshot_dir) / "trial-desktop.png"), full_page=True)
        page.get_by_role("button", name="Save and continue").click()

    expect(page.get_by_role("heading", name="Final questions")).to_be_visible()
    expect(page.locator(".progress-label")).to_have_text("Final questions · after trial 5 of 5")
    end_fieldsets = likert_items(page)
    assert len(end_fieldsets) == 4, f"Expected 4 end items, found {len(end_fieldsets)}"
    for position, fieldset in enumerate(end_fieldsets, start=1):
        value = position % 5 + 1
        answer_by_click(fieldset, value)
        clicked[(None, item_code(fieldset))] = value
        positions[(None, item_code(fieldset))] = position
    page.get_by_label("Any comments on the study? (optional)").fill("Clear enough, thanks.")
    page.get_by_role("button", name="Finish the study").click()

    # The done page shows the code, then its meta refresh sends the browser to Prolific after ~3 s.
    expect(page.locator(".completion-code")).to_have_text("DEMO-COMPLETE")
    page.wait_for_url(EXPECTED_RETURN, timeout=TIMEOUT_MS)
    assert page.url == EXPECTED_RETURN
    assert prolific_urls == [EXPECTED_RETURN], f"Requests to Prolific: {prolific_urls}"
    page.context.close()

    # What the database holds.
    participant = Participant.objects.get(study=demo_study, prolific_pid=pid)
    assert participant.status == Participant.Status.COMPLETED, participant.status
    assert participant.attention_passed is True
    assert participant.comment == "Clear enough, thanks."
    assert seen_stimuli == participant.stimulus_sequence, "Pages showed stimuli out of the stored order"
    assert attention_seen_on == [participant.attention_trial], (
        f"Attention check seen on trials {attention_seen_on}, stored for trial {participant.attention_trial}"
    )

    responses = list(Response.objects.filter(participant=participant).select_related("item"))
    stored = [((r.stimulus_id, r.item.code), r.value) for r in responses]
    assert len(stored) == len(set(k for k, _ in stored)), "More than one Response for an item"
    assert dict(stored) == clicked, "Stored answers differ from what was clicked"
    stored_positions = {(r.stimulus_id, r.item.code): r.position for r in responses}
    assert stored_positions == positions, "Stored positions differ from the order shown"
    per_trial_codes = set(participant.study.items.filter(scope="trial").values_list("code", flat=True))
    end_codes = set(participant.study.items.filter(scope="end").values_list("code", flat=True))
    for number, stimulus_id in enumerate(participant.stimulus_sequence, start=1):
        codes = {code for (s, code) in clicked if s == stimulus_id}
        expected = (
            per_trial_codes
            if number == participant.attention_trial
            else {c for c in per_trial_codes if not c.startswith("attention_check")}
        )
        assert codes == expected, f"Trial {number}: answered {sorted(codes)}"
    assert {code for (s, code) in clicked if s is None} == end_codes

    visits = {v.page: v for v in PageVisit.objects.filter(participant=participant)}
    pages = ["consent", "instructions", *(f"trial-{n}" for n in range(1, 6)), "questionnaire"]
    assert sorted(visits) == sorted(pages), f"PageVisits: {sorted(visits)}"
    for name in pages:
        assert visits[name].submitted_at is not None, f"{name} has no submitted_at"
        assert visits[name].first_shown_at is not None, f"{name} was never recorded as shown"
    for number, stimulus_id in enumerate(participant.stimulus_sequence, start=1):
        assert visits[f"trial-{number}"].stimulus_id == stimulus_id


def test_likert_options_stack_on_phone(browser, live_server, demo_study):
    page, _ = new_page(browser, PHONE)
    page.goto(entry_url(live_server, demo_study, secrets.token_hex(12)))
    consent_and_read_instructions(page)
    expect(page.locator(".progress-label")).to_have_text("Trial 1 of 5")
    expect(page.locator("div.trace")).to_be_visible()

    options = likert_items(page)[0].locator(".likert-option")
    boxes = [options.nth(i).bounding_box() for i in range(options.count())]
    assert len(boxes) == 5, f"Expected 5 options, got {len(boxes)}"
    xs = [round(b["x"]) for b in boxes]
    ys = [b["y"] for b in boxes]
    assert len(set(xs)) == 1, f"Options not in one column on a phone: x = {xs}"
    assert ys == sorted(ys) and len(set(ys)) == 5, f"Options not stacked top to bottom: y = {ys}"
    assert all(b["x"] + b["width"] <= PHONE["width"] for b in boxes), "An option runs off the screen"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"The page scrolls sideways on a phone ({width}px wide)"

    screenshot_dir = os.environ.get("STUDY_SCREENSHOT_DIR")
    if screenshot_dir:
        page.screenshot(path=str(Path(screenshot_dir) / "trial-phone.png"), full_page=True)
    page.context.close()
