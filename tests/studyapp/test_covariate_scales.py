"""The covariate scales' library (studyapp.scales.library): each scale has the published items, response
format and reverse-keyed items, and scores answers by its published rule (reverse keying, means, the
subscales or factors it defines and no total where it defines none). No database: the scoring is plain
Python."""

from __future__ import annotations

import json

import pytest

from studyapp.scales import SCALES, participant_scores, scales_in
from studyapp.scales.library import ANSWER, CODES, DATA, MEAN

NCS6, TIA, SNAIL, LLM_USE = (SCALES[code] for code in ("ncs6", "tia", "snail", "llm_use"))


def reverse_keyed(scale) -> list[int]:
    return [n for n, item in enumerate(scale.items, start=1) if item.reverse_keyed]


def members(scale) -> dict[str, list[int]]:
    return {score.code: list(score.items) for score in scale.scores}


def answers(scale, values: dict[int, int]) -> dict[str, int]:
    """Item number -> point chosen, as the stored answers are keyed: by item code."""
    return {scale.item_codes[n - 1]: value for n, value in values.items()}


# --- the instruments as published -----------------------------------------------------------------------


def test_ncs6_is_items_1_2_3_4_11_15_of_the_ncs18_on_5_points_with_3_and_4_reversed():
    """Lins de Holanda Coelho, Hanel & Wolf (2020): six NCS-18 items, one factor, items 3 and 4
    ('Thinking is not my idea of fun', 'I would rather do something that requires little thought ...')
    reverse-keyed."""
    assert [item.origin for item in NCS6.items] == [f"NCS-18 item {n}" for n in (1, 2, 3, 4, 11, 15)]
    assert NCS6.items[2].text == "Thinking is not my idea of fun."
    assert reverse_keyed(NCS6) == [3, 4]
    assert NCS6.scale_points == 5 and NCS6.items[0].anchors[0] == "Extremely uncharacteristic of me"
    assert members(NCS6) == {"ncs6": [1, 2, 3, 4, 5, 6]}


def test_tia_has_the_manuals_19_items_six_subscales_and_five_inverse_items():
    """Körber (2019), manual Table 1: the subscales' items by their number on the sheet; inverse items
    5, 7, 10, 15 and 16; the sheet's 5-point labels."""
    assert len(TIA.items) == 19
    assert reverse_keyed(TIA) == [5, 7, 10, 15, 16]
    assert members(TIA) == {
        "tia_reliability_competence": [1, 6, 10, 13, 15, 19],
        "tia_understanding_predictability": [2, 7, 11, 16],
        "tia_familiarity": [3, 17],
        "tia_intention_of_developers": [4, 8],
        "tia_propensity_to_trust": [5, 12, 18],
        "tia_trust_in_automation": [9, 14],
    }
    assert TIA.items[15].text == "It is difficult to identify what the system will do next."
    assert TIA.items[0].anchors == ("Strongly disagree", "Rather disagree", "Neither disagree nor agree",
                                    "Rather agree", "Strongly agree")


#: Laupichler et al. (2023), Table 1: the item set's numbers (V01-V39) by factor, the eight deleted ones
#: (V03, V07, V09, V10, V11, V26, V27, V38) left out.
SNAIL_FACTORS = {
    "snail_technical_understanding": {14, 17, 30, 12, 16, 4, 23, 18, 13, 15, 33, 22, 36, 5},
    "snail_critical_appraisal": {35, 34, 25, 8, 6, 39, 28, 21, 20, 32},
    "snail_practical_application": {37, 2, 1, 31, 24, 29, 19},
}


def test_snail_has_31_items_in_the_three_published_factors_none_reversed_on_7_points():
    v_numbers = [int(item.origin.removeprefix("V")) for item in SNAIL.items]
    assert len(v_numbers) == 31 and v_numbers == sorted(v_numbers)
    assert set(v_numbers) == set(range(1, 40)) - {3, 7, 9, 10, 11, 26, 27, 38}
    factors = {code: {v_numbers[n - 1] for n in items} for code, items in members(SNAIL).items()}
    assert factors == SNAIL_FACTORS
    assert [len(f) for f in factors.values()] == [14, 10, 7]
    assert reverse_keyed(SNAIL) == [] and SNAIL.scale_points == 7
    assert all(item.text.startswith("I can ") for item in SNAIL.items)
    assert SNAIL.items[0].anchors[::2] == ("Strongly disagree", "Somewhat disagree", "Somewhat agree",
                                           "Strongly agree")


def test_prior_llm_use_is_descriptive_items_one_covariate_each_not_a_scale():
    assert not LLM_USE.validated and "not a validated scale" in LLM_USE.name
    assert [(score.rule, len(score.items)) for score in LLM_USE.scores] == [(ANSWER, 1)] * 4


@pytest.mark.parametrize("scale", SCALES.values(), ids=list(SCALES))
def test_every_scale_is_complete_data(scale):
    """Each item on the scale's points, in exactly one score; the reference, licence and scoring given;
    a validated scale says where its wording was checked."""
    assert all(len(item.anchors) == scale.scale_points for item in scale.items)
    scored = sorted(n for score in scale.scores for n in score.items)
    assert scored == list(range(1, len(scale.items) + 1))
    assert all(score.rule in (MEAN, ANSWER) for score in scale.scores)
    assert all(len(score.items) == 1 for score in scale.scores if score.rule == ANSWER)
    assert scale.reference and scale.licence and scale.scoring
    assert not scale.validated or (scale.doi and scale.verified_from)
    assert scale.item_codes[0] == f"{scale.construct}_1"


def test_every_data_file_is_a_scale_of_the_library():
    assert sorted(path.stem for path in DATA.glob("*.json")) == sorted(CODES)
    assert all(json.loads((DATA / f"{code}.json").read_text())["code"] == code for code in CODES)


# --- scoring by the published rules ----------------------------------------------------------------------


def test_ncs6_is_the_mean_after_reversing_items_3_and_4():
    """(5 + 4 + (6-1) + (6-2) + 3 + 5) / 6 = 26/6."""
    assert NCS6.score(answers(NCS6, {1: 5, 2: 4, 3: 1, 4: 2, 5: 3, 6: 5})) == {"ncs6": pytest.approx(26 / 6)}


def test_agreeing_with_everything_is_not_the_top_of_ncs6():
    """The reverse-keyed items cancel acquiescence: all 5s is (4 x 5 + 2 x 1) / 6."""
    assert NCS6.score(answers(NCS6, dict.fromkeys(range(1, 7), 5)))["ncs6"] == pytest.approx(22 / 6)


def test_tia_recodes_an_answer_of_5_to_item_16_as_1_the_manuals_example():
    """The manual: 'a response of 5 to item 16 must be recoded to 1'. Understanding/Predictability with
    items 2, 7, 11, 16 answered 4, 2, 5, 5: (4 + (6-2) + 5 + (6-5)) / 4 = 3.5."""
    scores = TIA.score(answers(TIA, {**dict.fromkeys(range(1, 20), 3), 2: 4, 7: 2, 11: 5, 16: 5}))
    assert scores["tia_understanding_predictability"] == 3.5


def test_tia_scores_each_subscale_on_its_own_and_gives_no_total():
    values = {n: 5 for n in range(1, 20)}  # agreeing with everything, the inverse items included
    scores = TIA.score(answers(TIA, values))
    assert scores == {
        "tia_reliability_competence": pytest.approx((4 * 5 + 2 * 1) / 6),
        "tia_understanding_predictability": 3.0,
        "tia_familiarity": 5.0,
        "tia_intention_of_developers": 5.0,
        "tia_propensity_to_trust": pytest.approx((1 + 5 + 5) / 3),
        "tia_trust_in_automation": 5.0,
    }


def test_an_unanswered_item_leaves_only_its_own_subscale_unscored():
    values = answers(TIA, {n: 4 for n in range(1, 20) if n != 17})  # Familiarity's second item
    scores = TIA.score(values)
    assert scores["tia_familiarity"] is None
    assert scores["tia_trust_in_automation"] == 4.0


def test_snail_factors_are_the_means_of_their_items():
    values = {n: 2 for n in range(1, 32)}
    for n, item in enumerate(SNAIL.items, start=1):
        if int(item.origin.removeprefix("V")) in SNAIL_FACTORS["snail_practical_application"]:
            values[n] = 6
    values[3] = 7  # V04, Technical Understanding: (13 x 2 + 7) / 14
    assert SNAIL.score(answers(SNAIL, values)) == {
        "snail_technical_understanding": pytest.approx(33 / 14),
        "snail_critical_appraisal": 2.0,
        "snail_practical_application": 6.0,
    }


def test_a_descriptive_item_is_its_answer():
    assert LLM_USE.score(answers(LLM_USE, {1: 5, 2: 1, 4: 3})) == {
        "llm_use_frequency": 5, "llm_use_experience": 1, "llm_use_reads_reasoning": None,
        "llm_use_checks_answers": 3,
    }


def test_an_answer_off_the_scale_is_refused_not_scored():
    with pytest.raises(ValueError, match="need_for_cognition_1: 7 is not a point of its 5-point scale"):
        NCS6.score(answers(NCS6, {1: 7, 2: 3, 3: 3, 4: 3, 5: 3, 6: 3}))


# --- a participant's covariates --------------------------------------------------------------------------


def test_a_participant_is_scored_on_the_scales_the_study_has_whole():
    study_items = ["faithfulness_overall", *NCS6.item_codes, *TIA.item_codes[:-1]]  # TiA lacks an item
    assert scales_in(study_items) == [NCS6]
    given = {**answers(NCS6, {1: 5, 2: 4, 3: 1, 4: 2, 5: 3, 6: 5}), "faithfulness_overall": 2}
    assert participant_scores(given, study_items) == {"ncs6": pytest.approx(26 / 6)}


def test_a_participant_without_answers_gets_every_score_as_none():
    study_items = [*NCS6.item_codes, *SNAIL.item_codes]
    assert participant_scores({}, study_items) == {
        "ncs6": None, "snail_technical_understanding": None, "snail_critical_appraisal": None,
        "snail_practical_application": None,
    }
