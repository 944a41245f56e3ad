"""A library scale in a study (studyapp.scales.studies): added from the admin's action or the study
file's ``covariate_scales``, it is exactly the scale's items at the end of the questionnaire; a refusal
(codes in use, people who took part, a scale not in the library) changes nothing; participants' answers
on the end-of-study page are scored by the scale's rule; and the study file names the scale and comes
back the same."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from studyapp import spec
from studyapp.models import Item, Response, Study
from studyapp.scales import SCALES, participant_scores
from studyapp.scales.studies import ScaleRefused, add_scale
from studyapp.spec.layout import schema
from tests.conftest import Walker, make_study

pytestmark = pytest.mark.django_db

BETWEEN = Path(__file__).parent / "data" / "specs" / "three-between.json"
NCS6, TIA = SCALES["ncs6"], SCALES["tia"]


def items_of(study: Study) -> list[tuple]:
    fields = ("code", "construct", "scope", "text", "scale_points", "anchors", "reverse_keyed", "source",
              "position")
    return list(study.items.order_by("position", "code").values_list(*fields))


# --- adding a scale --------------------------------------------------------------------------------------


def test_adding_a_scale_appends_exactly_its_items_as_published_after_the_questionnaire():
    study = make_study(status=Study.Status.DRAFT)
    before = items_of(study)
    last = before[-1][-1]
    added = add_scale(study, "tia")
    after = items_of(study)
    assert after[: len(before)] == before
    new = after[len(before):]
    assert [row[0] for row in new] == [f"trust_in_automation_{n}" for n in range(1, 20)]
    assert [row[-1] for row in new] == list(range(last + 1, last + 20)) and len(added) == 19
    assert {row[1:3] for row in new} == {("trust_in_automation", Item.Scope.END)}
    assert [row[3] for row in new] == [item.text for item in TIA.items]
    assert {row[4] for row in new} == {5} and new[0][5] == list(TIA.items[0].anchors)
    assert [n for n, row in enumerate(new, start=1) if row[6]] == [5, 7, 10, 15, 16]
    assert new[4][7] == "TiA item 5 (Pro1), Körber (2019)"
    for item in study.items.filter(construct="trust_in_automation"):
        item.full_clean()  # what the admin's item form accepts


def test_a_study_using_one_of_the_scales_codes_is_refused_and_left_as_it_was():
    study = make_study(status=Study.Status.DRAFT)
    study.items.filter(code="faithfulness_overall").update(code="need_for_cognition_2",
                                                          construct="need_for_cognition")
    before = items_of(study)
    with pytest.raises(ScaleRefused, match="has items coded need_for_cognition_2 already"):
        add_scale(study, "ncs6")
    assert items_of(study) == before


def test_a_study_someone_has_taken_part_in_is_refused_and_left_as_it_was(client):
    study = make_study()
    Walker(client, study).arrive()
    before = items_of(study)
    with pytest.raises(ScaleRefused, match=r"participants have taken part .* no answers to the scale"):
        add_scale(study, "ncs6")
    assert items_of(study) == before


def test_a_scale_not_in_the_library_is_refused_naming_those_that_are():
    study = make_study(status=Study.Status.DRAFT)
    with pytest.raises(ScaleRefused, match="no scale 'nfc' in the library; its scales are ncs6, tia, snail, "
                                           "llm_use"):
        add_scale(study, "nfc")


def test_the_admins_action_adds_the_scale_to_each_study_it_may_and_says_why_not_to_the_others(
        admin_client, client):
    ready, taken = make_study("ready", status=Study.Status.DRAFT), make_study("taken")
    Walker(client, taken).arrive()
    response = admin_client.post(reverse("admin:studyapp_study_changelist"),
                                 {"action": "add_scale_ncs6", "_selected_action": [ready.pk, taken.pk]},
                                 follow=True)
    said = {str(message) for message in get_messages(response.wsgi_request)}
    assert "ready: NCS-6 added as 6 end-of-study items, need_for_cognition_1 to need_for_cognition_6." in said
    assert any(m.startswith("taken: NCS-6 not added. In taken participants have taken part") for m in said)
    assert ready.items.filter(construct="need_for_cognition").count() == 6
    assert not taken.items.filter(construct="need_for_cognition").exists()


def test_the_changelist_offers_an_action_per_scale(admin_client):
    make_study(status=Study.Status.DRAFT)  # the list shows its actions once it lists a study
    page = admin_client.get(reverse("admin:studyapp_study_changelist")).content.decode()
    for code in SCALES:
        assert f'value="add_scale_{code}"' in page
    assert "Add the covariate scale SNAIL (31 end-of-study items) to the selected studies" in page


# --- answered and scored ---------------------------------------------------------------------------------


def test_answers_on_the_end_of_study_page_are_scored_by_the_scales_rule(client):
    study = make_study(trials=2, status=Study.Status.DRAFT)
    add_scale(study, "ncs6")
    Study.objects.filter(pk=study.pk).update(status=Study.Status.LIVE)
    walker = Walker(client, study)
    walker.arrive()
    walker.post("consent", {"consent": "yes"})
    walker.post("instructions", {})
    for n in (1, 2):
        walker.post(f"trial-{n}", walker.answers_for(f"trial-{n}"))
    page = walker.answers_for("questionnaire", 3)
    chosen = {1: 5, 2: 4, 3: 1, 4: 2, 5: 3, 6: 5}
    page.update({f"item-need_for_cognition_{n}": value for n, value in chosen.items()})
    walker.post("questionnaire", {**page, "comment": ""})

    stored = dict(Response.objects.filter(participant=walker.participant, stimulus=None)
                  .values_list("item__code", "value"))
    assert {code: stored[code] for code in NCS6.item_codes} == {
        f"need_for_cognition_{n}": value for n, value in chosen.items()}
    codes = study.items.values_list("code", flat=True)
    assert participant_scores(stored, codes) == {"ncs6": pytest.approx((5 + 4 + 5 + 4 + 3 + 5) / 6)}


# --- the study file ----------------------------------------------------------------------------------------


def test_the_study_file_names_the_scales_and_comes_back_the_same():
    spec.import_study(BETWEEN.read_text())
    study = Study.objects.get(slug="three-between")
    add_scale(study, "tia")
    add_scale(study, "ncs6")
    document = spec.export_study(study)
    assert document["covariate_scales"] == ["tia", "ncs6"]
    assert [item["code"] for item in document["items"]] == [item["code"] for item in
                                                            json.loads(BETWEEN.read_text())["items"]]

    copy = spec.import_study(spec.dumps(document), slug="copy").study
    assert [row[:-1] for row in items_of(copy)] == [row[:-1] for row in items_of(study)]
    again = spec.export_study(copy)
    assert {**again, "slug": "three-between"} == document


def test_a_scale_with_an_edited_item_is_written_item_by_item_and_keeps_the_edit():
    spec.import_study(BETWEEN.read_text())
    study = Study.objects.get(slug="three-between")
    add_scale(study, "ncs6")
    study.items.filter(code="need_for_cognition_1").update(text="I prefer complex problems to simple ones.")
    document = spec.export_study(study)
    assert "covariate_scales" not in document
    assert "need_for_cognition_6" in [item["code"] for item in document["items"]]
    copy = spec.import_study(spec.dumps(document), slug="copy").study
    assert copy.items.get(code="need_for_cognition_1").text == "I prefer complex problems to simple ones."


def file_with(scales: list[str], *, items_too: bool = False) -> str:
    document = json.loads(BETWEEN.read_text())
    document["covariate_scales"] = scales
    if items_too:
        document["items"].append({"code": "need_for_cognition_3", "construct": "need_for_cognition",
                                  "scope": "end", "text": "Thinking is fun.", "anchors": ["a"] * 5})
    return spec.dumps(document)


@pytest.mark.parametrize(("text", "entry", "says"), [
    (file_with(["ncs6", "grit"]), 1,
     "There is no scale 'grit' in the library; its scales are ncs6, tia, snail, llm_use."),
    (file_with(["ncs6", "tia", "ncs6"]), 2,
     "The scale 'ncs6' is named twice (first at covariate_scales[0])."),
    (file_with(["ncs6"], items_too=True), 0,
     "The scale 'ncs6' adds its own items, but the file's items use its codes already: need_for_cognition_3 "
     "(items[5]). Leave out one or the other."),
], ids=["unknown", "twice", "codes-in-use"])
def test_a_file_with_a_wrong_scale_is_refused_at_it_and_nothing_is_made(text, entry, says):
    with pytest.raises(spec.InvalidSpec) as refused:
        spec.import_study(text)
    # the file is indented: the list's entries are on the lines after its key's, one each
    line = text[: text.index('"covariate_scales"')].count("\n") + 2 + entry
    expected = f"covariate_scales[{entry}] (line {line}): {says}"
    assert [str(error) for error in refused.value.errors] == [expected]
    assert not Study.objects.exists() and not Item.objects.exists()


def test_the_schema_lists_the_librarys_scales():
    described = schema()["properties"]["covariate_scales"]["description"]
    assert all(code in described for code in SCALES)
