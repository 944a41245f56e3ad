"""The exports' rows and columns (studyapp.exports) and the export_study command."""

import csv
import io
import json
from collections import Counter
from dataclasses import dataclass

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from studyapp import exports
from studyapp.conditions import PAPER_CONDITIONS
from studyapp.models import Item, PageVisit, Participant, Response, Study
from studyapp.questionnaire import AGREEMENT, DEMAND
from tests.conftest import PAPER_CODES, Walker, make_study
from tests.studyapp.designed import (
    FOUR,
    THREE,
    Walked,
    designed_study,
    read_in_conditions,
    walk_with_attrition,
)


@dataclass
class Built:
    study: Study
    completed: list[Participant]
    screened_out: Participant
    active: Participant
    preview: Participant
    no_consent: Participant


def build_study(slug: str = "ex") -> Built:
    """A small study: three completed participants (one failing the attention check, so screened
    out), one part-way through, one who declined consent, and one run turned into a preview."""
    study = make_study(slug, trials=3)

    def walk(**kwargs) -> Participant:
        walker = Walker(Client(), study)
        walker.complete(**kwargs)
        return walker.participant

    a, c = walk(value=4), walk(value=2)
    b = walk(value=5, attention="fail")
    active = Walker(Client(), study)
    active.arrive()
    active.post("consent", {"consent": "yes"})
    active.post("instructions", {})
    active.post("trial-1", active.answers_for("trial-1", value=3))
    declined = Walker(Client(), study)
    declined.arrive()
    declined.post("consent", {"consent": "no"})
    preview = walk(value=1)
    Participant.objects.filter(pk=preview.pk).update(is_preview=True)
    people = {p.pk: p for p in Participant.objects.filter(study=study)}
    assert people[b.pk].status == Participant.Status.SCREENED_OUT
    assert people[active.participant.pk].status == Participant.Status.ACTIVE
    return Built(
        study, [people[a.pk], people[c.pk]], people[b.pk], people[active.participant.pk],
        people[preview.pk], people[declined.participant.pk],
    )


@pytest.fixture
def built(db) -> Built:
    return build_study()


def table_dicts(table: exports.Table) -> list[dict]:
    """The table as its CSV reads back, row by row: what a researcher gets."""
    data = b"".join(exports.csv_chunks(table.header, table.rows())).decode()
    reader = csv.DictReader(io.StringIO(data))
    assert reader.fieldnames == table.header
    return list(reader)


def cell(value) -> str:
    return "" if value is None else str(value)


def expected_long(study: Study, **filters) -> list[dict]:
    """The long rows computed independently from model instances."""
    responses = (
        Response.objects.filter(participant__study=study, **filters)
        .select_related("participant__condition", "stimulus", "item")
        .order_by("participant_id", "submitted_at", "position", "id")
    )
    rows = []
    for r in responses:
        p = r.participant
        visit = PageVisit.objects.filter(participant=p, stimulus_id=r.stimulus_id).select_related(
            "trace_version").first()
        practice = r.stimulus_id is not None and r.stimulus_id not in p.stimulus_sequence
        trial = p.stimulus_sequence.index(r.stimulus_id) + 1 if r.stimulus_id and not practice else None
        # the condition of the text the answer is about; end-of-study items: the participant's, if any
        condition = (p.trial_conditions[trial - 1] if trial else p.trial_conditions[0] if practice
                     else p.condition and p.condition.code)
        rows.append({
            "study": study.slug, "participant_id": str(p.pk), "prolific_pid": p.prolific_pid,
            "condition": cell(condition), "is_preview": str(int(p.is_preview)),
            "trial": cell(trial),
            "practice": str(int(practice)),
            "stimulus": cell(r.stimulus and r.stimulus.code), "stimulus_list": cell(p.stimulus_list),
            "construct": r.item.construct,
            "item": r.item.code, "value": str(r.value), "position": str(r.position),
            "time_on_page_ms": cell(r.time_on_page_ms),
            "trace_visible_ms": cell(visit and visit.trace_visible_ms),
            "trace_end_seen": cell(None if visit is None or visit.trace_end_seen is None
                                   else int(visit.trace_end_seen)),
            "trace_end_first_seen_ms": cell(visit and visit.trace_end_first_seen_ms),
            "trace_end_visible_ms": cell(visit and visit.trace_end_visible_ms),
            "trace_scroll_depth": cell(visit and visit.trace_scroll_depth),
            "trace_version": cell(visit and visit.trace_version and visit.trace_version.number),
            "steps_shown": cell(visit and visit.steps_shown),
            "first_wrong_step": cell(visit and visit.first_wrong_step),
            "first_wrong_step_truth": cell(visit and visit.first_wrong_step_truth),
            "first_wrong_step_correct": cell(None if visit is None or visit.first_wrong_step_correct is None
                                             else int(visit.first_wrong_step_correct)),
            "submitted_at": r.submitted_at.isoformat(),
        })
    return rows


def test_long_export_has_one_row_per_response_matching_the_database(built):
    rows = table_dicts(exports.long_table(built.study, exports.ParticipantFilter()))
    assert rows == expected_long(built.study, participant__is_preview=False)
    real = Response.objects.filter(participant__study=built.study, participant__is_preview=False)
    assert len(rows) == real.count() > 0
    trial_rows = [r for r in rows if r["trial"]]
    assert {r["trial"] for r in trial_rows} == {"1", "2", "3"}
    assert all(r["stimulus"] == "" for r in rows if not r["trial"])
    assert {r["item"] for r in rows if not r["trial"]} == {
        "predictability_overall", "understandability_overall", "faithfulness_overall",
        "cognitive_load_overall",
    }
    assert built.preview.prolific_pid not in {r["prolific_pid"] for r in rows}


def test_long_export_header():
    assert [name for name, _ in exports.LONG_COLUMNS] == [
        "study", "participant_id", "prolific_pid", "condition", "is_preview", "trial", "practice", "stimulus",
        "stimulus_list", "construct", "item", "value", "position", "time_on_page_ms", "trace_visible_ms",
        "trace_end_seen", "trace_end_first_seen_ms", "trace_end_visible_ms", "trace_scroll_depth",
        "trace_version", "steps_shown", "first_wrong_step", "first_wrong_step_truth",
        "first_wrong_step_correct", "submitted_at",
    ]


def test_wide_export_has_one_row_per_participant_with_every_answer_in_its_column(built):
    table = exports.wide_table(built.study, exports.ParticipantFilter())
    rows = table_dicts(table)
    real = Participant.objects.filter(study=built.study, is_preview=False)
    assert len(rows) == real.count() == 5  # the participant who declined consent too, with no answers
    header = table.header
    assert header[:14] == [
        "study", "participant_id", "prolific_pid", "condition", "stimulus_list", "condition_order", "status",
        "is_preview", "started_at", "ended_at", "attention_failures", "attention_passed", "device_class",
        "viewport_width",
    ]
    assert header[14:20] == [
        "attention_1_trial", "attention_1_item", "attention_1_value", "attention_2_trial", "attention_2_item",
        "attention_2_value",
    ]
    assert header[20:35] == [
        "t1_stimulus", "t1_condition", "t1_time_on_page_ms", "t1_trace_visible_ms", "t1_trace_end_seen",
        "t1_trace_end_first_seen_ms", "t1_trace_end_visible_ms", "t1_trace_scroll_depth", "t1_trace_version",
        "t1_steps_shown", "t1_first_wrong_step", "t1_first_wrong_step_truth", "t1_first_wrong_step_correct",
        "t1_predictability_1", "t1_predictability_2",
    ]
    assert "t3_cognitive_load_2" in header and "t4_predictability_1" not in header
    assert "end_predictability_overall" in header and header[-1] == "end_time_on_page_ms"
    assert all(name.isascii() and name.replace("_", "").isalnum() for name in header)

    by_id = {row["participant_id"]: row for row in rows}
    assert list(by_id) == [str(p.pk) for p in real.order_by("id")]
    answer_columns = [h for h in header if (h.startswith(("t", "end_")) or h.endswith("_value"))
                      and not h.endswith(("_stimulus", "_condition", "_time_on_page_ms",
                                          *(name for name, _ in exports.TRIAL_PAGE_COLUMNS)))]
    for p in real:
        row = by_id[str(p.pk)]
        assert row["condition"] == p.condition.code and row["status"] == p.status
        responses = list(p.responses.select_related("item", "stimulus"))
        checks = sorted(p.attention_plan, key=lambda c: c["trial"])
        for k, check in enumerate(checks, start=1):
            assert row[f"attention_{k}_trial"] == str(check["trial"])
        for r in responses:
            if r.item.is_attention_check:
                trial = p.stimulus_sequence.index(r.stimulus_id) + 1
                k = next(k for k, c in enumerate(checks, start=1) if c["trial"] == trial)
                assert row[f"attention_{k}_item"] == r.item.code
                column = f"attention_{k}_value"
            elif r.stimulus_id is None:
                column = f"end_{r.item.code}"
            else:
                trial = p.stimulus_sequence.index(r.stimulus_id) + 1
                column = f"t{trial}_{r.item.code}"
                assert row[f"t{trial}_stimulus"] == r.stimulus.code
                assert row[f"t{trial}_condition"] == p.trial_conditions[trial - 1] == p.condition.code
                assert row[f"t{trial}_time_on_page_ms"] == str(r.time_on_page_ms)
            assert row[column] == str(r.value), column
        # Every other answer cell is empty.
        assert sum(1 for h in answer_columns if row[h] != "") == len(responses)


def test_wide_row_of_a_participant_part_way_has_empty_cells_for_what_is_missing(built):
    rows = table_dicts(exports.wide_table(built.study, exports.ParticipantFilter(status="active")))
    (row,) = rows
    assert row["t1_predictability_1"] == "3"
    assert row["t2_predictability_1"] == "" and row["t2_stimulus"] == ""
    assert row["end_predictability_overall"] == "" and row["ended_at"] == ""


def test_page_times_export_has_one_row_per_page_visit(built):
    rows = table_dicts(exports.page_times_table(built.study, exports.ParticipantFilter()))
    visits = PageVisit.objects.filter(participant__study=built.study, participant__is_preview=False)
    assert len(rows) == visits.count()
    done = built.completed[0]
    mine = [r for r in rows if r["participant_id"] == str(done.pk)]
    assert [r["page"] for r in mine] == ["consent", "instructions", "trial-1", "trial-2", "trial-3",
                                         "questionnaire"]
    assert [r["trial"] for r in mine] == ["", "", "1", "2", "3", ""]
    for row in mine:
        visit = done.visits.select_related("stimulus").get(page=row["page"])
        assert row["stimulus"] == cell(visit.stimulus and visit.stimulus.code)
        assert row["first_shown_at"] == visit.first_shown_at.isoformat()
        assert row["last_shown_at"] == visit.last_shown_at.isoformat()
        assert row["submitted_at"] == visit.submitted_at.isoformat()
        seconds = (visit.submitted_at - visit.first_shown_at).total_seconds()
        assert float(row["seconds_on_page"]) == pytest.approx(seconds, abs=0.001)


def test_participants_export(built):
    everyone = exports.ParticipantFilter(include_previews=True)
    rows = table_dicts(exports.participants_table(built.study, everyone))
    assert len(rows) == Participant.objects.filter(study=built.study).count() == 6
    by_id = {row["participant_id"]: row for row in rows}
    b = by_id[str(built.screened_out.pk)]
    assert b["status"] == "screened_out" and b["attention_passed"] == "0" and b["is_preview"] == "0"
    assert b["prolific_pid"] == built.screened_out.prolific_pid
    assert b["prolific_study_id"] == "abc" and b["prolific_session_id"] == f"session-{b['prolific_pid']}"
    assert b["attention_failures"] == "2" and b["consented_at"] == built.screened_out.consented_at.isoformat()
    plan = sorted(built.screened_out.attention_plan, key=lambda c: c["trial"])
    assert b["attention_checks"] == ";".join(f"{c['trial']}:{c['position']}" for c in plan)
    assert b["device_class"] == "" and b["viewport_width"] == ""  # the test client sends neither
    assert b["started_at"] == built.screened_out.started_at.isoformat()
    assert b["ended_at"] == built.screened_out.ended_at.isoformat()
    assert by_id[str(built.completed[0].pk)]["attention_passed"] == "1"
    assert by_id[str(built.completed[0].pk)]["comment"] == "fine"
    assert by_id[str(built.preview.pk)]["is_preview"] == "1"
    assert by_id[str(built.no_consent.pk)]["attention_passed"] == ""
    assert by_id[str(built.active.pk)]["condition"] == built.active.condition.code


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (exports.ParticipantFilter(), lambda b: [*b.completed, b.screened_out, b.active, b.no_consent]),
        (exports.ParticipantFilter(include_previews=True), lambda b: [
            *b.completed, b.screened_out, b.active, b.no_consent, b.preview]),
        (exports.ParticipantFilter(completed_only=True), lambda b: b.completed),
        (exports.ParticipantFilter(status="screened_out"), lambda b: [b.screened_out]),
        (exports.ParticipantFilter(status="completed", include_previews=True), lambda b: [
            *b.completed, b.preview]),
    ],
)
def test_filters_choose_participants(built, flt, expected):
    rows = table_dicts(exports.participants_table(built.study, flt))
    assert {int(r["participant_id"]) for r in rows} == {p.pk for p in expected(built)}
    long = table_dicts(exports.long_table(built.study, flt))
    assert {int(r["participant_id"]) for r in long} <= {p.pk for p in expected(built)}
    assert len(table_dicts(exports.wide_table(built.study, flt))) == len(rows)


def test_condition_filter(built):
    code = built.completed[0].condition.code
    flt = exports.ParticipantFilter(condition=code)
    rows = table_dicts(exports.long_table(built.study, flt))
    assert rows and {r["condition"] for r in rows} == {code}
    assert rows == expected_long(
        built.study, participant__is_preview=False, participant__condition__code=code
    )
    other = next(c for c in PAPER_CODES if c != code)
    n_other = Participant.objects.filter(study=built.study, condition__code=other, is_preview=False).count()
    others = table_dicts(exports.participants_table(built.study, exports.ParticipantFilter(condition=other)))
    assert len(others) == n_other


def test_exports_of_another_study_are_separate(built):
    other = make_study("other")
    assert table_dicts(exports.long_table(other, exports.ParticipantFilter())) == []
    assert table_dicts(exports.wide_table(other, exports.ParticipantFilter())) == []


def test_codebook(built):
    book = exports.codebook(built.study)
    items = {i["code"]: i for i in book["items"]}
    assert set(items) == set(built.study.items.values_list("code", flat=True))
    p1 = items["predictability_1"]
    assert p1["construct"] == "predictability" and p1["scope"] == "trial"
    assert p1["text"] == Item.objects.get(study=built.study, code="predictability_1").text
    assert p1["anchors"] == [{"value": n, "label": label} for n, label in enumerate(AGREEMENT, start=1)]
    assert [a["label"] for a in items["cognitive_load_1"]["anchors"]] == DEMAND
    assert items["attention_check_1"]["expected_value"] == 2
    assert items["faithfulness_overall"]["scope"] == "end"
    assert [(c["code"], c["label"], c["trace_kind"]) for c in book["conditions"]] == [
        (c.code, c.label, c.trace_kind) for c in PAPER_CONDITIONS
    ]  # in the study's order, each with where its texts come from
    assert [s["code"] for s in book["participant_statuses"]] == Participant.Status.values
    wide = exports.wide_table(built.study, exports.ParticipantFilter())
    assert [c["name"] for c in book["columns"]["responses_wide"]] == wide.header
    assert [c["name"] for c in book["columns"]["responses"]] == [n for n, _ in exports.LONG_COLUMNS]
    assert all(c["description"] for cols in book["columns"].values() for c in cols)

    rows = table_dicts(exports.codebook_table(built.study))
    item_row = next(r for r in rows if r["section"] == "item" and r["code"] == "predictability_1")
    assert [item_row[f"anchor_{n}"] for n in range(1, 6)] == AGREEMENT
    assert item_row["construct"] == "predictability" and item_row["label"] == p1["text"]
    assert {r["code"] for r in rows if r["section"] == "condition"} == set(PAPER_CODES)
    assert {r["code"] for r in rows if r["section"] == "participant_status"} == set(Participant.Status.values)
    assert [r["code"] for r in rows if r["section"] == "responses_wide_column"] == wide.header


def test_csv_quotes_commas_quotes_and_new_lines():
    data = b"".join(exports.csv_chunks(["a", "b"], [("x, \"y\"\nz", None), (1, 2)])).decode()
    assert list(csv.reader(io.StringIO(data))) == [["a", "b"], ['x, "y"\nz', ""], ["1", "2"]]
    assert b"".join(exports.csv_chunks(["a"], [])) == b"a\r\n"


def test_csv_text_that_a_spreadsheet_would_run_as_a_formula_is_quoted_but_numbers_are_not():
    # OWASP, "CSV Injection": prefix cells starting with = + - @ tab or carriage return with a single quote.
    rows = [("=HYPERLINK(\"http://x\")", -5), ("+1", 2.5), ("-2", "ok - fine"), ("@SUM(A1)", None),
            ("\tx", "\ry"), ("a\n=b", 0)]
    data = b"".join(exports.csv_chunks(["a", "b"], rows, batch_rows=2)).decode()
    assert list(csv.reader(io.StringIO(data)))[1:] == [
        ["'=HYPERLINK(\"http://x\")", "-5"], ["'+1", "2.5"], ["'-2", "ok - fine"], ["'@SUM(A1)", ""],
        ["'\tx", "'\ry"], ["a\n=b", "0"],
    ]


def test_a_participants_formula_comment_is_inert_in_csv_and_verbatim_in_json(db):
    study = make_study("formula")
    walker = Walker(Client(), study)
    walker.complete(comment="=cmd|' /C calc'!A0")
    table = exports.participants_table(study, exports.ParticipantFilter())
    (row,) = table_dicts(table)
    assert row["comment"] == "'=cmd|' /C calc'!A0"
    (obj,) = json.loads(b"".join(exports.json_chunks(table.header, table.rows())))
    assert obj["comment"] == "=cmd|' /C calc'!A0"


def test_json_chunks_make_one_array_of_objects():
    rows = [(n, f"r{n}", None) for n in range(5)]
    data = b"".join(exports.json_chunks(["n", "s", "x"], rows, batch_rows=2))
    assert json.loads(data) == [{"n": n, "s": f"r{n}", "x": None} for n in range(5)]
    assert json.loads(b"".join(exports.json_chunks(["n"], []))) == []


def test_export_study_command_writes_the_apis_csv_files(built, tmp_path, admin_client):
    call_command("export_study", built.study.slug, "--out", str(tmp_path), stdout=io.StringIO())
    names = {
        "responses": "api:responses", "responses-wide": "api:responses-wide", "page-times": "api:page-times",
        "participants": "api:participants", "stimuli": "api:stimuli", "texts": "api:texts",
        "codebook": "api:codebook",
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"ex-{n}.csv" for n in names)
    for name, url_name in names.items():
        response = admin_client.get(reverse(url_name, args=["ex"]), {"format": "csv"})
        assert response.status_code == 200
        assert (tmp_path / f"ex-{name}.csv").read_bytes() == b"".join(response.streaming_content), name


def test_export_study_command_json_and_filters(built, tmp_path, admin_client):
    call_command(
        "export_study", "ex", "--out", str(tmp_path), "--format", "json", "--completed", stdout=io.StringIO()
    )
    long = json.loads((tmp_path / "ex-responses.json").read_text())
    api = admin_client.get(reverse("api:responses", args=["ex"]), {"completed": "1"})
    assert long == json.loads(b"".join(api.streaming_content))
    assert {r["participant_id"] for r in long} == {p.pk for p in built.completed}
    book = json.loads((tmp_path / "ex-codebook.json").read_text())
    assert book == admin_client.get(reverse("api:codebook", args=["ex"])).json()


def test_export_study_command_refuses_an_unknown_study(db, tmp_path):
    with pytest.raises(CommandError, match="No study"):
        call_command("export_study", "nope", "--out", str(tmp_path))


# --- studies researchers design: their own conditions, between or within participants --------------


def within_study() -> Walked:
    study = designed_study("w4", FOUR, design=Study.Design.WITHIN, n_stimuli=8, trials=4, target=8)
    return walk_with_attrition(study, first=3, then=3)


def test_the_exports_of_a_within_study_carry_each_trials_condition_and_list(db):
    walked = within_study()
    study = walked.study
    people = {p.pk: p for p in Participant.objects.filter(study=study, is_preview=False)}
    assert len(people) == 8  # 6 completed, one left, one under way

    long = table_dicts(exports.long_table(study, exports.ParticipantFilter()))
    assert long == expected_long(study, participant__is_preview=False)
    for row in long:
        p = people[int(row["participant_id"])]
        assert row["stimulus_list"] == str(p.stimulus_list)
        if row["trial"]:
            assert row["condition"] == p.trial_conditions[int(row["trial"]) - 1]
        else:
            assert row["condition"] == ""  # end-of-study items: within participants, no one condition
    # what the completed participants answered about, per condition, is what the monitor counts
    done = {p.pk for p in walked.completed}
    answered = Counter((r["stimulus"], r["condition"]) for r in long
                       if int(r["participant_id"]) in done and r["item"] == "predictability_1")
    assert answered == read_in_conditions(study)

    wide = table_dicts(exports.wide_table(study, exports.ParticipantFilter()))
    for row in wide:
        p = people[int(row["participant_id"])]
        assert (row["condition"], row["stimulus_list"], row["condition_order"]) == (
            "", str(p.stimulus_list), str(p.condition_order))
        answered_trials = p.pages_done - 2  # consent and instructions first
        for t in range(1, study.trials_per_participant + 1):
            shown = p.trial_conditions[t - 1] if t <= answered_trials else ""
            assert row[f"t{t}_condition"] == shown, (p.status, t)

    pages = table_dicts(exports.page_times_table(study, exports.ParticipantFilter()))
    for row in pages:
        p = people[int(row["participant_id"])]
        assert row["condition"] == (p.trial_conditions[int(row["trial"]) - 1] if row["trial"] else "")

    participants = {int(r["participant_id"]): r for r in
                    table_dicts(exports.participants_table(study, exports.ParticipantFilter()))}
    for pk, p in people.items():
        row = participants[pk]
        assert (row["design"], row["condition"], row["trial_conditions"]) == (
            "within", "", ";".join(p.trial_conditions))
        assert row["stimulus_list"] == str(p.stimulus_list)
        assert row["condition_order"] == str(p.condition_order)

    # the stimuli export counts a text's readers by the condition of the trial it was read on
    readers = {(r["stimulus"], r["condition"]): int(r["readers"]) for r in
               table_dicts(exports.stimuli_table(study))}
    read = Counter()
    codes = dict(study.stimuli.values_list("id", "code"))
    for p in people.values():
        read.update((codes[s], c) for s, c in zip(p.stimulus_sequence, p.trial_conditions, strict=True))
    assert readers == {key: read[key] for key in readers} and sum(readers.values()) == 8 * 4


def test_the_exports_of_a_three_condition_between_study_carry_its_own_codes(db):
    study = designed_study("b3", THREE, design=Study.Design.BETWEEN, n_stimuli=6, trials=2, target=3)
    walk_with_attrition(study, first=4, then=2)
    long = table_dicts(exports.long_table(study, exports.ParticipantFilter()))
    people = {p.pk: p for p in Participant.objects.filter(study=study)}
    assert {r["condition"] for r in long} == {"plain", "steps", "digest"}
    for row in long:  # every row, end-of-study items too, in the participant's one condition
        assert row["condition"] == people[int(row["participant_id"])].condition.code
    participants = table_dicts(exports.participants_table(study, exports.ParticipantFilter()))
    assert {(r["design"], r["condition_order"]) for r in participants} == {("between", "")}
    steps = exports.ParticipantFilter(condition="steps")
    chosen = {int(r["participant_id"]) for r in table_dicts(exports.participants_table(study, steps))}
    assert chosen == {pk for pk, p in people.items() if p.condition.code == "steps"} != set()


def test_the_codebook_describes_the_design_conditions_and_scales(db):
    walked = within_study()
    book = exports.codebook(walked.study)
    assert book["design"] == {
        "code": "within", "label": "Within participants: each participant reads every condition",
        "target": 8, "target_of": "participants in all", "trials_per_participant": 4,
        "condition_orders": [  # a Williams square: each first once, each after every other once
            ["plain", "steps", "posthoc-v2", "digest"], ["steps", "digest", "plain", "posthoc-v2"],
            ["digest", "posthoc-v2", "steps", "plain"], ["posthoc-v2", "plain", "digest", "steps"],
        ],
    }
    described = [(c["code"], c["label"], c["heading"], c["trace_kind"], c["text_source"])
                 for c in book["conditions"]]
    assert described == [(code, label, heading, kind, f"{kind} texts, file {code}.jsonl")
                         for code, label, heading, kind in FOUR]
    effort = next(i for i in book["items"] if i["code"] == "effort_reversed")
    assert (effort["scale_points"], effort["reverse_keyed"], len(effort["anchors"])) == (7, True, 7)
    assert next(i for i in book["items"] if i["code"] == "predictability_1")["scale_points"] == 5

    rows = table_dicts(exports.codebook_table(walked.study))
    (design,) = [r for r in rows if r["section"] == "design"]
    assert design["code"] == "within" and "target 8 participants in all, 4 trials each" in design["label"]
    orders = [r["label"] for r in rows if r["section"] == "condition_order"]
    assert orders == [";".join(order) for order in book["design"]["condition_orders"]]
    row = next(r for r in rows if r["code"] == "effort_reversed")
    assert (row["scale_points"], row["reverse_keyed"], row["anchor_7"]) == ("7", "1", "Strongly agree")
    condition = next(r for r in rows if r["section"] == "condition" and r["code"] == "digest")
    assert (condition["heading"], condition["trace_kind"]) == ("A summary of the reasoning", "summary")
    wide = {c["name"]: c["description"] for c in book["columns"]["responses_wide"]}
    assert wide["end_effort_reversed"].startswith("End of study: effort_reversed (1-7, reverse-keyed")
    assert wide["t1_condition"] == "Trial 1: the code of the condition whose text was read."


def test_a_condition_filter_on_a_within_study_is_refused_saying_why(db, tmp_path):
    walked = within_study()
    with pytest.raises(CommandError, match="every participant reads every condition"):
        call_command("export_study", "w4", "--out", str(tmp_path), "--condition", "steps")
    with pytest.raises(CommandError, match="its conditions are plain, steps, digest, posthoc-v2"):
        call_command("export_study", "w4", "--out", str(tmp_path), "--condition", "r1")
    assert not any(tmp_path.iterdir())  # nothing written
    call_command("export_study", walked.study.slug, "--out", str(tmp_path), stdout=io.StringIO())
    assert (tmp_path / "w4-responses.csv").exists()
