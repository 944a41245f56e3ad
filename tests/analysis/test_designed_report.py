"""Issue 19's report: studies a researcher designs (their own conditions, constructs, 7-point and
reverse-keyed items, within participants) analysed as designed. Both example study files are imported
and opened as the acceptance test does (tests/studyapp/test_designed_studies.py), walked by pilot bots of
which some leave part-way, and the report is built from the database and shown as the staff page."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import timedelta
from fractions import Fraction

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db.models import F
from django.urls import reverse

from analysis.data import ItemInfo, ParticipantData, StudyData, gather
from analysis.models import AnalysisPlan
from analysis.monitor import analysed_sample
from analysis.report import Options, PlanData, build, build_with_scores, exclude, render_html
from analysis.report import scores as sc
from analysis.report.options import flags
from analysis.study_spec import check
from studyapp.models import PageVisit, Participant, Response, Study
from tests.studyapp.test_designed_studies import opened_from_its_file

pytestmark = pytest.mark.django_db
EVERYONE = Options(attention=False, speeders=False, straightlining=False)


def walked(name: str, admin_client) -> Study:
    """The study from its file, walked by 60 pilot bots of which 40% leave; the bots then stand in for
    Prolific participants (the report analyses only those), each taking 30 s per page."""
    study = opened_from_its_file(name, admin_client)
    call_command("pilot", study.slug, participants=60, leave=0.4, seed=5)
    Participant.objects.filter(study=study).update(is_preview=False, pilot=None)
    PageVisit.objects.filter(participant__study=study, submitted_at__isnull=False).update(
        first_shown_at=F("submitted_at") - timedelta(seconds=30))
    return study


def ids_resolve(html: str) -> None:
    """Every id on the page is unique and every in-page link finds exactly one element."""
    ids = Counter(re.findall(r'\sid="([^"]+)"', html))
    assert ids and max(ids.values()) == 1, [k for k, n in ids.items() if n > 1]
    links = re.findall(r'href="#([^"]+)"', html)
    assert links and all(ids[link] == 1 for link in links), [link for link in links if ids[link] != 1]


def by_hand(study: Study, construct: str, within: bool) -> dict[str, float]:
    """Each condition's mean participant score on ``construct`` from the stored answers, everyone who
    finished analysed: a reverse-keyed answer counts as points + 1 - answer; within participants a
    participant's score in a condition is the mean of their answers on that condition's trials."""
    finished = Participant.objects.filter(study=study, status__in=["completed", "screened_out"])
    trial_of = {p.pk: dict(zip(p.stimulus_sequence, p.trial_conditions, strict=True)) for p in finished}
    own = {p.pk: p.condition.code if p.condition else None for p in finished}
    answers: dict[tuple[int, str], list[int]] = defaultdict(list)
    for r in Response.objects.filter(participant__in=finished, item__construct=construct,
                                     item__scope="trial", stimulus__is_practice=False).select_related("item"):
        value = r.item.scale_points + 1 - r.value if r.item.reverse_keyed else r.value
        condition = trial_of[r.participant_id][r.stimulus_id] if within else own[r.participant_id]
        answers[(r.participant_id, condition)].append(value)
    per_condition: dict[str, list[Fraction]] = defaultdict(list)
    for (_, condition), values in answers.items():
        per_condition[condition].append(Fraction(sum(values), len(values)))
    return {c: float(sum(v) / len(v)) for c, v in per_condition.items()}


def means(block: dict) -> dict[str, float]:
    return {d["condition"]: d["mean"] for d in block["descriptives"]}


def test_a_three_condition_between_study_with_7_point_reverse_keyed_items(admin_client, admin_user):
    study = walked("three-between", admin_client)
    codes = list(study.conditions.values_list("code", flat=True))
    data = gather(study)
    report = build(data)
    assert report["design"]["key"] == "between" and not report["design"]["within"]
    assert [c["code"] for c in report["conditions"]] == codes
    assert [c["key"] for c in report["constructs"]] == ["clarity", "trust"]  # the items' constructs
    assert [c["label"] for c in report["constructs"]] == ["Clarity", "Trust"]
    assert report["primary"]["test"].startswith("the cumulative link mixed model")
    assert [o["key"] for o in report["primary"]["outcomes"]] == ["clarity", "trust"]  # the study's own
    assert not report["secondary"]["outcomes"]  # no composite without its three constructs
    clarity = report["constructs"][0]
    assert clarity["points"] == 7 and clarity["kruskal"]["df"] == 2 and len(clarity["dunn"]) == 3
    assert all(len(counts) == 7 for counts in clarity["ordinal"]["counts"].values())
    items = {i["code"]: i for i in report["items"]}
    assert all(len(items[code]["counts"][c]) == 7 for code in items for c in items[code]["counts"])
    assert items["clarity_2"]["reverse_keyed"]
    # reverse-keyed scoring, by hand from the stored answers (everyone who finished analysed)
    everyone = build(data, EVERYONE)
    assert means(everyone["constructs"][0]) == pytest.approx(by_hand(study, "clarity", within=False))
    assert any("Reverse-keyed items (clarity_2)" in line for line in report["methods"])

    page = admin_client.get(reverse("analysis:report", args=[study.slug])).content.decode()
    assert "Between participants: each participant read one condition" in page
    for condition in study.conditions.all():
        assert condition.code in page
    assert "participant scores, 1\u20137" in page and "Clarity" in page and "Trust" in page
    ids_resolve(page)


def test_a_construct_named_like_a_section_keeps_every_id_unique(admin_client, admin_user):
    study = walked("three-between", admin_client)
    study.items.filter(construct="trust").update(construct="attrition")
    study.items.filter(construct="clarity").update(construct="reading")
    html = render_html(*build_with_scores(gather(study)))
    assert 'id="outcome-attrition"' in html and 'id="attrition"' in html and 'id="outcome-reading"' in html
    ids_resolve(html)


def test_a_four_condition_within_study_is_analysed_within(admin_client, admin_user):
    study = walked("four-within", admin_client)
    codes = list(study.conditions.values_list("code", flat=True))
    plan = AnalysisPlan(study=study, primary_test="kruskal", pairwise="mann_whitney")
    plan.full_clean()
    plan.save()
    assert plan.primary_outcomes == ["understandability", "trust"]  # the study's constructs, by default
    data = gather(study)
    report = build(data)
    assert report["design"]["key"] == "within"
    assert report["design"]["words"].startswith("Within participants: each participant read every condition")
    assert [c["key"] for c in report["constructs"]] == ["understandability", "trust"]
    finished = Participant.objects.filter(study=study, status__in=["completed", "screened_out"]).count()
    assert sum(report["exclusions"]["finished"].values()) == finished
    assert list(report["exclusions"]["finished"]) == [sc.WITHIN_GROUP]
    analysed = report["exclusions"]["analysed_total"]
    assert analysed >= 3

    # the plan's Kruskal-Wallis runs as Friedman's test, its Mann-Whitney tests as Wilcoxon signed-rank
    primary = report["primary"]
    assert primary["test"].startswith("Friedman's test") and primary["pairwise"].startswith("Wilcoxon")
    first = primary["outcomes"][0]
    assert first["model"] == "friedman" and "runs as Friedman's test" in first["note"]
    assert first["words"].startswith("Friedman \u03c7\u00b2(3)") and len(first["pairs"]) == 6
    block = report["constructs"][0]
    assert block["friedman"]["n"] == block["complete"] == analysed and block["friedman"]["df"] == 3
    assert all(p["V"] is not None or p["reason"] for p in block["wilcoxon"]) and len(block["wilcoxon"]) == 6
    assert "kruskal" not in block and "welch" not in block and "ordinal" not in block
    # each participant has a score in every condition: n per condition is the number analysed
    assert [d["n"] for d in block["descriptives"]] == [analysed] * len(codes)
    # the mixed model on the answers, each in its trial's condition: condition within participants
    mixed = block["mixed"]
    assert mixed["fitted"] and mixed["conditions"] == codes and mixed["df"] == 3
    # its permutation test moves each participant's conditions among their own trials
    permutation = mixed["permutation"]
    assert permutation["units"] == "each participant's conditions" and permutation["n"] == analysed
    assert 0 < permutation["p"] <= 1 and len(permutation["pairs"]) == 6
    assert mixed["words"].startswith("Permutation test of the model's score (5,000 permutations of "
                                     "conditions over each participant's conditions")
    _, kept = exclude(data.participants, data.items, [sc.WITHIN_GROUP], data.plan.options)
    assert mixed["n"] == sum(1 for p in kept for (s, code) in p.answers if s and code.startswith("underst"))
    rows = sc.outcomes(kept, data.items, codes)["understandability"].rows
    trial = {p.pk: p.trial_conditions for p in data.participants}
    assert {condition for condition, *_ in rows} == set(codes)
    assert all(trial[person][stimulus] == condition for condition, person, stimulus, _ in rows)
    assert {len({c for c, p, *_ in rows if p == person}) for person in {p for _, p, *_ in rows}} == {4}
    # 7-point trust, 5-point understandability with its reverse-keyed item, scored by hand
    trust = report["constructs"][1]
    assert trust["points"] == 7 and all(len(c) == 7 for c in trust["counts"].values())
    assert all(len(c) == 5 for c in block["counts"].values())
    everyone = build(data, EVERYONE)
    assert means(everyone["constructs"][0]) == pytest.approx(by_hand(study, "understandability", within=True))
    # attrition, devices and the monitor: the study as one group
    assert [r["condition"] for r in report["attrition"]["rows"]] == [sc.WITHIN_GROUP]
    assert report["attrition"]["rows"][0]["completed"] == study.target_per_condition
    assert report["attrition"]["rows"][0]["abandoned"] >= 2
    sample = analysed_sample(study)
    assert sample.finished == {"": finished} and sample.analysed == {"": analysed}
    monitor = admin_client.get(reverse("studyapp:monitor", args=[study.slug])).content.decode()
    assert f"<td>{analysed} / {finished}</td>" in monitor
    # reading times per trial condition, every condition with every analysed participant
    assert all(d["n"] == analysed for d in report["reading"][0]["descriptives"])

    page = admin_client.get(reverse("analysis:report", args=[study.slug])).content.decode()
    assert "Within participants: each participant read every condition" in page
    assert "Friedman" in page and "Wilcoxon signed-rank" in page and "condition within participants" in page
    for condition in study.conditions.all():
        assert condition.code in page
    assert "Understandability" in page and "Trust" in page
    ids_resolve(page)


def test_reverse_keyed_scores_and_a_construct_mixing_scales_by_hand():
    """Plain data: 7-point clarity_2 is reverse-keyed; "mixed" has a 5- and a 7-point item."""
    anchors7, anchors5 = [str(n) for n in range(1, 8)], [str(n) for n in range(1, 6)]
    items = [ItemInfo("clarity_1", "clarity", "trial", "", anchors7, 7),
             ItemInfo("clarity_2", "clarity", "trial", "", anchors7, 7, reverse_keyed=True),
             ItemInfo("mixed_1", "mixed", "trial", "", anchors5, 5),
             ItemInfo("mixed_2", "mixed", "trial", "", anchors7, 7)]
    # trials 1 and 2: clarity_1 6 and 5, clarity_2 2 and 3 (scored 6 and 5): score (6 + 6 + 5 + 5) / 4 = 5.5
    one = ParticipantData(1, "a", "completed", True, {
        (1, "clarity_1"): 6, (1, "clarity_2"): 2, (2, "clarity_1"): 5, (2, "clarity_2"): 3,
        (1, "mixed_1"): 1, (1, "mixed_2"): 7, (2, "mixed_1"): 2, (2, "mixed_2"): 6})
    # answers all 2 as chosen: a straight-liner, though clarity_2's 2 scores 6: (2 + 6 + 2 + 6) / 4 = 4
    two = ParticipantData(2, "b", "completed", True, {(s, i.code): 2 for s in (1, 2) for i in items})
    outcome = sc.outcomes([one, two], items, ["a", "b"])
    assert list(outcome) == ["clarity"] and outcome["clarity"].scores == {"a": [5.5], "b": [4.0]}
    assert outcome["clarity"].counts == {"a": [0, 0, 0, 0, 2, 2, 0], "b": [0, 2, 0, 0, 0, 2, 0]}
    assert flags(two, {i.code for i in items}, Options())["straightlining"]  # on the answers as chosen
    assert not flags(one, {i.code for i in items}, Options())["straightlining"]
    (refused,) = sc.outcome_plan(items).refused
    assert refused["key"] == "mixed" and "mix 5-point and 7-point scales" in refused["reason"]
    data = StudyData("s", "S", 2, [("a", "A"), ("b", "B")], items, [one, two], {}, [],
                     plan=PlanData(primary_outcomes=("clarity", "mixed")))
    report = build(data, EVERYONE)
    assert report["refused"] == [refused] and [c["key"] for c in report["constructs"]] == ["clarity"]
    assert report["primary"]["missing"] == [{**refused}]  # planned, named, not analysed
    html = render_html(report)
    assert "Not analysed: Mixed (<code>mixed</code>): its items mix 5-point and 7-point scales" in html
    ids_resolve(html)


def test_a_plan_names_the_studys_own_constructs_and_its_file_is_checked_against_them(admin_client,
                                                                                    admin_user):
    study = opened_from_its_file("four-within", admin_client)
    plan = AnalysisPlan(study=study, primary_outcomes=["faithfulness"], equivalence_margin=0.5)
    with pytest.raises(ValidationError) as error:
        plan.full_clean()
    assert error.value.message_dict["primary_outcomes"] == [
        "Not a construct of this study's per-trial items: faithfulness. Its constructs: understandability, "
        "trust."]
    plan.primary_outcomes, plan.equivalence_margin = ["trust"], 5.5  # under 6: the widest scale has 7 points
    plan.full_clean()
    document = {"items": [{"code": "trust_1", "construct": "trust", "scope": "trial"}]}
    assert check({"primary_outcomes": ["trust"]}, document) == []
    ((path, message),) = check({"primary_outcomes": ["clarity"]}, document)
    assert path == ("primary_outcomes",) and message.endswith("Its constructs: trust.")
