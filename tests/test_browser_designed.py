"""A within-participants study rated on 7-point items, in a real Chromium at desktop, tablet and phone width:
the points of a 7-point and a 5-point item lay out on one row where they fit whole (a 7-point scale needs
about 840px) and in one column where they do not, nothing runs off the screen, and each trial shows its
own condition's heading.

Set STUDY_SCREENSHOT_DIR to keep screenshots of the instructions and a trial page at each width.
"""

import os
import secrets
from pathlib import Path

import pytest

from studyapp.models import Item, Participant, Study
from tests.conftest import make_study
from tests.test_browser import DESKTOP, PHONE, browser, entry_url, expect, new_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
__all__ = ["browser"]  # the fixture, imported to be used here

AGREEMENT_7 = ["Strongly disagree", "Disagree", "Somewhat disagree", "Neither agree nor disagree",
               "Somewhat agree", "Agree", "Strongly agree"]


@pytest.fixture
def within_seven(transactional_db) -> Study:
    """The paper's four conditions within participants, each with its own heading; a 7-point agreement
    item (reverse-keyed) under every text besides the default questionnaire."""
    study = make_study("within-seven", n_stimuli=8, trials=4, target=8)
    Study.objects.filter(pk=study.pk).update(design=Study.Design.WITHIN)
    for condition in study.conditions.all():
        condition.trace_heading = f"{condition.label}"
        condition.save()
    Item.objects.create(study=study, code="clarity_1", construct="clarity", scope=Item.Scope.TRIAL,
                        text="The text was hard to follow.", scale_points=7, anchors=AGREEMENT_7,
                        reverse_keyed=True, position=0)  # rated first
    study.refresh_from_db()
    return study


TABLET = {"width": 760, "height": 1000}
#: how the points of a scale lay out at each width: a row (side by side) or a column (stacked)
LAYOUT = {("desktop", 7): "row", ("desktop", 5): "row", ("tablet", 7): "column", ("tablet", 5): "row",
          ("phone", 7): "column", ("phone", 5): "column"}


def boxes_of(fieldset) -> list[dict]:
    options = fieldset.locator(".likert-option")
    return [options.nth(i).bounding_box() for i in range(options.count())]


def check_layout(fieldset, layout: str) -> None:
    """The points in one row, left to right, equally wide and wide enough to read; or in one column, top
    to bottom. Either way inside their box, no label cut off."""
    fieldset.page.wait_for_load_state("load")  # the styled page's boxes, on a loaded machine too
    boxes = boxes_of(fieldset)
    frame = fieldset.bounding_box()
    assert all(frame["x"] <= b["x"] and b["x"] + b["width"] <= frame["x"] + frame["width"] + 0.5
               for b in boxes), "an option sticks out of its box"
    if layout == "row":
        assert len({round(b["y"]) for b in boxes}) == 1, "not on one row"
        xs, widths = [b["x"] for b in boxes], [round(b["width"]) for b in boxes]
        assert xs == sorted(xs)
        assert max(widths) - min(widths) <= 1 and min(widths) > 80, f"uneven or narrow points: {widths}"
    else:
        assert len({round(b["x"]) for b in boxes}) == 1, "not in one column"
        ys = [b["y"] for b in boxes]
        assert ys == sorted(ys) and len(set(ys)) == len(boxes)
    clipped = fieldset.locator(".likert-option span").evaluate_all(
        "spans => spans.filter(s => s.scrollWidth > s.clientWidth + 1).map(s => s.textContent)")
    assert clipped == [], f"labels overflow: {clipped}"


def fieldset_of(page, code: str):
    return page.locator(f"fieldset#field-item-{code}")


@pytest.mark.parametrize(("size", "viewport"), [("desktop", DESKTOP), ("tablet", TABLET), ("phone", PHONE)])
def test_seven_and_five_point_items_lay_out_at_desktop_tablet_and_phone_width(browser, live_server,
                                                                             within_seven, size, viewport):
    shots = os.environ.get("STUDY_SCREENSHOT_DIR")
    width = viewport["width"]
    page, _ = new_page(browser, viewport)
    page.goto(entry_url(live_server, within_seven, secrets.token_hex(12)))
    page.get_by_text("Yes, I agree to take part").click()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("Statements are rated on seven-point or five-point scales.")).to_be_visible()
    example = page.locator("fieldset.example-item")
    assert example.locator(".likert-option span").all_inner_texts() == AGREEMENT_7
    check_layout(example, LAYOUT[(size, 7)])  # the example looks as the trial pages' ratings will
    if shots:
        page.screenshot(path=str(Path(shots) / f"within-7pt-instructions-{width}.png"), full_page=True)
    page.get_by_role("button", name="Start the first problem").click()

    participant = Participant.objects.get(study=within_seven)
    first = within_seven.conditions.get(code=participant.trial_conditions[0])
    expect(page.locator("#trace-heading")).to_have_text(first.trace_heading)
    for code, points in (("clarity_1", 7), ("predictability_1", 5)):
        fieldset = fieldset_of(page, code)
        assert len(boxes_of(fieldset)) == points
        check_layout(fieldset, LAYOUT[(size, points)])
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"The page scrolls sideways ({scroll_width}px wide at {width}px)"

    fieldset_of(page, "clarity_1").get_by_text("Somewhat agree", exact=True).click()
    expect(fieldset_of(page, "clarity_1").locator("input:checked")).to_have_value("5")
    if shots:
        page.screenshot(path=str(Path(shots) / f"within-7pt-trial-{width}.png"), full_page=True)
    page.context.close()
