"""The demo study (studyapp/demo.py) as an oTree 6 app, page by page, for bench/otree/compare.py.

A Prolific participant arrives through the session-wide link with ``?participant_label=<PROLIFIC_PID>``
and walks: Consent -> Instructions -> 5 x Trial (one round each: facts, question, the condition's trace,
the model's answer, the 8 per-trial items in a shuffled order, an attention-check item on 2 of the 5
trials, the reading measures the page's script would fill in) -> Questionnaire (the 4 end items and an
optional comment) -> Done (the Prolific completion code and the link back to Prolific).

As in the demo: 4 conditions between participants, balanced (assigned in turn when the session is
created, as oTree does it); 5 of the 15 stimuli per participant; both attention checks once each,
a participant failing both ends with the failed-attention code; 60 minutes for the whole study, as a
timeout spanning the pages (oTree's documented way). The texts are exported from the seeded demo study
into the JSON file that ``TRACE_STUDY_STIMULI`` names (traces rendered to HTML by the project's renderer,
as a researcher would prepare them in a file).
"""

import itertools
import json
import os
import random
import time
from functools import cache

from otree.api import BaseConstants, BaseGroup, BasePlayer, BaseSubsession, Page, models, widgets

doc = __doc__

AGREEMENT = ("Strongly disagree", "Disagree", "Neither agree nor disagree", "Agree", "Strongly agree")
DEMAND = ("Very low", "Low", "Moderate", "High", "Very high")


class C(BaseConstants):
    NAME_IN_URL = "study"
    PLAYERS_PER_GROUP = None
    NUM_ROUNDS = 5  # the demo study's trials per participant
    # the default questionnaire (studyapp/questionnaire.py): per-trial items, then the end items
    TRIAL_ITEMS = [
        "predictability_1", "predictability_2", "understandability_1", "understandability_2",
        "faithfulness_1", "faithfulness_2", "cognitive_load_1", "cognitive_load_2",
    ]
    # instructed-response items and the answer each asks for (2 = Disagree, 4 = Agree)
    ATTENTION_CHECKS = {"attention_check_1": 2, "attention_check_2": 4}
    END_ITEMS = [
        "predictability_overall", "understandability_overall", "faithfulness_overall",
        "cognitive_load_overall",
    ]
    READING_MEASURES = [
        "trace_visible_ms", "trace_end_seen", "trace_end_first_seen_ms", "trace_end_visible_ms",
    ]
    PROLIFIC_RETURN = "https://app.prolific.com/submissions/complete?cc="


def likert(text: str, anchors: tuple[str, ...] = AGREEMENT):
    """A 5-point item, answered 1..5, shown as a row of labelled radio buttons."""
    return models.IntegerField(
        label=text, choices=list(enumerate(anchors, start=1)), widget=widgets.RadioSelectHorizontal
    )


@cache
def study_texts() -> dict:
    """The demo study's texts, exported by compare.py (conditions, stimuli with each condition's trace)."""
    path = os.environ.get("TRACE_STUDY_STIMULI")
    if not path:
        raise RuntimeError("set TRACE_STUDY_STIMULI to the JSON file bench/otree/compare.py exports")
    with open(path, encoding="utf8") as handle:
        texts = json.load(handle)
    texts["by_id"] = {stimulus["id"]: stimulus for stimulus in texts["stimuli"]}
    return texts


class Subsession(BaseSubsession):
    pass


class Group(BaseGroup):
    pass


class Player(BasePlayer):
    consent = models.StringField(
        label="Do you agree to take part in this study?",
        choices=[["yes", "Yes, I agree to take part"],
                 ["no", "No, I do not agree (you will be returned to Prolific)"]],
        widget=widgets.RadioSelect,
    )
    viewport_width = models.IntegerField(blank=True)
    stimulus = models.IntegerField()  # the demo study's stimulus id shown in this round

    predictability_1 = likert("Reading the reasoning, I could predict the answer the model would give.")
    predictability_2 = likert("The model's final answer was what I expected after reading its reasoning.")
    understandability_1 = likert("From the reasoning, I understand how the model arrived at its answer.")
    understandability_2 = likert("The reasoning has sufficient detail for me to follow it.")
    faithfulness_1 = likert("The reasoning shows the steps the model actually used to reach its answer.")
    faithfulness_2 = likert("The model's final answer follows from the reasoning it shows.")
    cognitive_load_1 = likert("How mentally demanding was it to read this reasoning?", DEMAND)
    cognitive_load_2 = likert("How hard did you have to work to understand this reasoning?", DEMAND)
    attention_check_1 = likert(
        "To show that you are reading carefully, please select 'Disagree' for this statement."
    )
    attention_check_2 = likert("This statement checks that you are reading: please select 'Agree' for it.")

    # what the trial page's script measures in a browser
    trace_visible_ms = models.IntegerField(blank=True, min=0)
    trace_end_seen = models.IntegerField(blank=True, min=0, max=1)
    trace_end_first_seen_ms = models.IntegerField(blank=True, min=0)
    trace_end_visible_ms = models.IntegerField(blank=True, min=0)

    predictability_overall = likert("Overall, the model's answers were predictable from its reasoning.")
    understandability_overall = likert(
        "Overall, the reasoning texts helped me understand how the model reached its answers."
    )
    faithfulness_overall = likert(
        "Overall, I believe the reasoning texts showed how the model actually reached its answers."
    )
    cognitive_load_overall = likert(
        "Overall, how mentally demanding was reading the model's reasoning?", DEMAND
    )
    comment = models.LongStringField(blank=True, label="Any comments on the study? (optional)")


def creating_session(subsession: Subsession) -> None:
    """Each participant's condition (in turn: balanced), 5 of the stimuli, the 2 trials with a check."""
    texts = study_texts()
    if subsession.round_number == 1:
        conditions = itertools.cycle([condition["code"] for condition in texts["conditions"]])
        ids = [stimulus["id"] for stimulus in texts["stimuli"]]
        for player in subsession.get_players():
            participant = player.participant
            participant.condition = next(conditions)
            participant.stimuli = random.sample(ids, C.NUM_ROUNDS)
            rounds = random.sample(range(1, C.NUM_ROUNDS + 1), len(C.ATTENTION_CHECKS))
            participant.check_rounds = dict(zip(rounds, C.ATTENTION_CHECKS, strict=True))
            participant.attention_failures = 0
    for player in subsession.get_players():
        player.stimulus = player.participant.stimuli[subsession.round_number - 1]


def consented(player: Player) -> bool:
    return player.in_round(1).field_maybe_none("consent") == "yes"


def still_in(player: Player) -> bool:
    """Consented and not failed the attention checks."""
    limit = player.session.config["attention_fail_limit"]
    return consented(player) and player.participant.attention_failures < limit


def time_left(player: Player) -> float:
    return player.participant.expiry - time.time()


class StudyPage(Page):
    """Every page counts down the study's time limit, which starts at the consent page."""

    @staticmethod
    def get_timeout_seconds(player: Player) -> float | None:
        if not player.session.config["time_limit_minutes"]:
            return None
        return time_left(player)


class Consent(StudyPage):
    form_model = "player"
    form_fields = ["consent", "viewport_width"]

    @staticmethod
    def is_displayed(player: Player) -> bool:
        return player.round_number == 1

    @staticmethod
    def get_timeout_seconds(player: Player) -> float | None:
        participant = player.participant
        if not player.session.config["time_limit_minutes"]:
            return None
        if participant.vars.get("expiry") is None:
            participant.expiry = time.time() + 60 * player.session.config["time_limit_minutes"]
        return time_left(player)

    @staticmethod
    def vars_for_template(player: Player) -> dict:
        texts = study_texts()
        return dict(consent_paragraphs=texts["consent"], minutes=texts["estimated_minutes"])


class Instructions(StudyPage):
    @staticmethod
    def is_displayed(player: Player) -> bool:
        return player.round_number == 1 and consented(player)


def item_order(player: Player) -> list[str]:
    """This trial's items in a shuffled order (the same on the page and in its form), with its check."""
    items = list(C.TRIAL_ITEMS)
    check = player.participant.check_rounds.get(player.round_number)
    if check:
        items.append(check)
    random.Random(player.id).shuffle(items)
    return items


class Trial(StudyPage):
    form_model = "player"

    @staticmethod
    def is_displayed(player: Player) -> bool:
        return still_in(player)

    @staticmethod
    def get_form_fields(player: Player) -> list[str]:
        return item_order(player) + C.READING_MEASURES

    @staticmethod
    def vars_for_template(player: Player) -> dict:
        texts = study_texts()
        stimulus = texts["by_id"][player.stimulus]
        condition = player.participant.condition
        heading = next(c["heading"] for c in texts["conditions"] if c["code"] == condition)
        return dict(
            facts=stimulus["facts"], question=stimulus["question"], answer=stimulus["answer"],
            trace_html=stimulus["traces"][condition], heading=heading, item_fields=item_order(player),
        )

    @staticmethod
    def before_next_page(player: Player, timeout_happened: bool) -> None:
        check = player.participant.check_rounds.get(player.round_number)
        if check and player.field_maybe_none(check) != C.ATTENTION_CHECKS[check]:
            player.participant.attention_failures += 1


class Questionnaire(StudyPage):
    form_model = "player"
    form_fields = [*C.END_ITEMS, "comment"]

    @staticmethod
    def is_displayed(player: Player) -> bool:
        return player.round_number == C.NUM_ROUNDS and still_in(player)


class Done(Page):
    @staticmethod
    def is_displayed(player: Player) -> bool:
        return player.round_number == C.NUM_ROUNDS

    @staticmethod
    def vars_for_template(player: Player) -> dict:
        config = player.session.config
        if not consented(player):
            code, finished = config["no_consent_code"], False
        elif not still_in(player):
            code, finished = config["failed_attention_code"], False
        else:
            code, finished = config["completion_code"], True
        return dict(code=code, finished=finished, return_url=C.PROLIFIC_RETURN + code,
                    debriefing=study_texts()["debriefing"])


page_sequence = [Consent, Instructions, Trial, Questionnaire, Done]
