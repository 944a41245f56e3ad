"""A participant's way through the study: which page comes next, and saving each page's answers.

Every page is saved in one transaction that holds a lock on the participant's row, so a double
submit, a second tab or a refresh finds the page already saved and stores nothing twice. Pages
already submitted are shown again with their saved answers and are never overwritten.
"""

import math
import random
import statistics
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from django.conf import settings
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext, gettext_noop, pgettext

from . import content, languages, step_rating
from .lookup import participant_for_page
from .models import (
    Condition,
    Item,
    PageVisit,
    Participant,
    Response,
    ShownTexts,
    Stimulus,
    TraceKind,
    TraceVersion,
    TrialJudgement,
    TrialTask,
)
from .monitoring import completion_minutes
from .pages import (
    CONSENT,
    DONE,
    INSTRUCTIONS,
    PRACTICE,
    PRACTICE_PREDICT,
    QUESTIONNAIRE,
    is_prediction,
    page_keys,
    predict_number,
    trial_number,
    trial_of,
)

TIME_WARNING_MINUTES = 10

SUBMITTING_STATUSES = (Participant.Status.ACTIVE, Participant.Status.TIMED_OUT)


class PageAlreadySaved(Exception):
    """The page was submitted before (double submit, back button, second tab)."""


class PageNotReached(Exception):
    """The participant has not got to this page yet."""


def current_page(participant: Participant) -> str:
    """Where the participant should be now; DONE once they have left the study in any way."""
    keys = page_keys(participant)
    if participant.status != Participant.Status.ACTIVE or participant.pages_done >= len(keys):
        return DONE
    return keys[participant.pages_done]


def page_state(participant: Participant, page: str, *, submitting: bool = False) -> str:
    """'saved' (submitted before), 'current' (to show or submit now), 'ahead' (not reached yet),
    'closed' (the participant has left the study) or 'unknown' (no such page).

    When `submitting`, a participant whose time ran out while the page was open may still
    submit it: what they answered is kept, and they are told afterwards that time is up.
    """
    keys = page_keys(participant)
    if page not in keys:
        return "unknown"
    index = keys.index(page)
    if index < participant.pages_done:
        return "saved"
    allowed = SUBMITTING_STATUSES if submitting else (Participant.Status.ACTIVE,)
    if participant.status not in allowed:
        return "closed"
    return "current" if index == participant.pages_done else "ahead"


def trials_done(participant: Participant) -> int:
    """How many trial pages the participant has submitted."""
    keys = page_keys(participant)
    return sum(1 for key in keys[: participant.pages_done] if trial_number(key) is not None)


#: The progress indicator on the pages around the trials (translated when shown: only the page's own).
_PROGRESS_LABELS = {
    CONSENT: gettext_noop("Consent · before trial 1 of %(n)s"),
    INSTRUCTIONS: gettext_noop("Instructions · before trial 1 of %(n)s"),
    PRACTICE_PREDICT: gettext_noop("Practice · your prediction · before trial 1 of %(n)s"),
    PRACTICE: gettext_noop("Practice · before trial 1 of %(n)s"),
    QUESTIONNAIRE: gettext_noop("Final questions · after trial %(n)s of %(n)s"),
}


def progress_label(participant: Participant, page: str) -> str:
    """What the progress indicator says on a page, e.g. "Trial 2 of 5"; on the last page, how the
    participant's study ended. In the active language (the participant's, on their pages)."""
    n = len(participant.stimulus_sequence)
    trial = trial_number(page)
    if trial is not None:
        return gettext("Trial %(trial)s of %(n)s") % {"trial": trial, "n": n}
    if predict_number(page) is not None:
        return gettext("Trial %(trial)s of %(n)s · your prediction") % {"trial": predict_number(page), "n": n}
    if page in _PROGRESS_LABELS:
        return gettext(_PROGRESS_LABELS[page]) % {"n": n}
    status = Participant.Status
    if participant.status in (status.COMPLETED, status.SCREENED_OUT):
        return gettext("Finished · %(n)s of %(n)s trials") % {"n": n}
    if participant.status in (status.NO_CONSENT, status.EXPIRED):
        return gettext("Ended before trial 1 of %(n)s") % {"n": n}
    return gettext("Ended · %(done)s of %(n)s trials done") % {"done": trials_done(participant), "n": n}


def progress_fraction(participant: Participant) -> float:
    if participant.status not in (Participant.Status.ACTIVE, Participant.Status.COMPLETED,
                                  Participant.Status.SCREENED_OUT):
        return participant.pages_done / len(page_keys(participant))
    return min(participant.pages_done / len(page_keys(participant)), 1.0)


def time_out_if_late(participant: Participant, now: datetime) -> bool:
    """Mark an active participant past the time limit as timed out, or one who has not consented
    within the hold as having given the place up (either way the slot has re-opened)."""
    if participant.is_out_of_time(now):
        status = Participant.Status.TIMED_OUT
    elif participant.hold_has_expired(now):
        status = Participant.Status.EXPIRED
    else:
        return False
    Participant.objects.filter(pk=participant.pk, status=Participant.Status.ACTIVE).update(
        status=status, ended_at=now
    )
    participant.refresh_from_db()
    return True


def minutes_left(participant: Participant, now: datetime) -> int | None:
    """Whole minutes (rounded up) before the time limit; None for a preview or a finished run."""
    if participant.is_preview or participant.status != Participant.Status.ACTIVE:
        return None
    return max(0, -int(-(participant.deadline() - now).total_seconds() // 60))


def record_page_shown(participant: Participant, page: str, now: datetime | None = None) -> int | None:
    """Keep the server time the page was first (and last) shown: reading time starts here. On a trial
    or the practice page also the version of the texts shown (from the content cache: no query). A
    refresh keeps the first version; it is returned, to be shown again (see trial_content).

    One statement, outside any transaction: insert the visit, or on a refresh only move its
    last-shown time. (The ORM's bulk_create upsert would wrap it in BEGIN/COMMIT.)
    Raises content.TextMissing if the trial's text is gone.
    """
    shown = connection.ops.adapt_datetimefield_value(now or timezone.now())
    stimulus_id = stimulus_id_for(participant, page)
    version_id = None
    if stimulus_id is not None:
        version_id = content.version(participant.study, stimulus_id, trial_condition(participant, page)).pk
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {PageVisit._meta.db_table} "  # noqa: S608 - the model's own table name
            "(participant_id, page, stimulus_id, trace_version_id, first_shown_at, last_shown_at) "
            "VALUES (%s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (participant_id, page) DO UPDATE SET last_shown_at = EXCLUDED.last_shown_at "
            "RETURNING trace_version_id",
            [participant.pk, page, stimulus_id, version_id, shown, shown],
        )
        return cursor.fetchone()[0]


def version_shown(participant: Participant, page: str) -> int | None:
    """The version of the texts the participant was shown on this trial or practice page, if recorded."""
    if stimulus_id_for(participant, page) is None:
        return None
    visits = PageVisit.objects.filter(participant=participant, page=page)
    return visits.values_list("trace_version_id", flat=True).first()


def trial_condition(participant: Participant, page: str) -> str:
    """The code of the condition whose text a trial (or the practice page) shows: the participant's
    condition between participants; within, the condition drawn for that trial (for the practice page,
    the first trial's)."""
    trial = trial_of(page)
    index = trial - 1 if trial is not None else 0
    if 0 <= index < len(participant.trial_conditions):
        return participant.trial_conditions[index]
    return participant.condition.code


def condition_shown(participant: Participant, page: str) -> Condition:
    """The condition of a trial or practice page (its heading above the text), from the content cache."""
    return content.for_study(participant.study).conditions_by_code[trial_condition(participant, page)]


def trace_headings(participant: Participant) -> list[str]:
    """The headings of the texts the participant will read, in their language, each once, in the order first
    met, as they read inside a sentence (see in_sentence); none for problems that show the answer alone."""
    by_code = content.for_study(participant.study).conditions_by_code
    language = participant.language
    return list(dict.fromkeys(
        in_sentence(languages.shown(by_code[code], "trace_heading", language), language)
        for code in _codes_read(participant)
        if code in by_code and by_code[code].trace_kind != TraceKind.ANSWER_ONLY
    ))


def _codes_read(participant: Participant) -> list[str]:
    return participant.trial_conditions or [participant.condition.code]


def answer_only_trials(participant: Participant) -> bool:
    """Whether some of the participant's problems show the model's answer with no text."""
    by_code = content.for_study(participant.study).conditions_by_code
    return any(code in by_code and by_code[code].trace_kind == TraceKind.ANSWER_ONLY
               for code in _codes_read(participant))


def in_sentence(heading: str, language: str) -> str:
    """A heading inside an English sentence: a capital that only starts it is lowered ("The model's
    reasoning" -> "the model's reasoning"); a name is kept ("DeepSeek-R1's reasoning", "R1 summary",
    "GPT-4o's notes"). Other languages keep it as written (German capitalises nouns, and its sentences name
    the heading as a title)."""
    if language != languages.SOURCE_LANGUAGE:
        return heading
    first_word = heading.split(" ", 1)[0]
    rest = first_word[1:]
    if rest == rest.lower() and not any(ch.isdigit() for ch in rest):
        return heading[:1].lower() + heading[1:]
    return heading


def texts_vary(participant: Participant) -> bool:
    """Whether the participant reads more than one condition's kind of text (within participants)."""
    return len(set(participant.trial_conditions)) > 1


@dataclass(frozen=True)
class RatingScale:
    """One response scale of the statements a participant rates, as the instructions describe it."""

    anchors: tuple[str, ...]

    @property
    def points(self) -> int:
        return len(self.anchors)

    @property
    def points_in_words(self) -> str:
        """The scale's kind as it reads in "rated on a ___ scale" (in the active language)."""
        if self.points == 5:
            return pgettext("rated on a ___ scale", "five-point")
        if self.points == 7:
            return pgettext("rated on a ___ scale", "seven-point")
        return pgettext("rated on a ___ scale", "%(points)s-point") % {"points": self.points}


@dataclass(frozen=True)
class RatingScales:
    """The response scales of the statements a participant rates, each once, in the order first met: the
    first is the instructions' example, the others are named after it."""

    scales: list[RatingScale]

    @property
    def lengths(self) -> list[str]:
        """The scales' kinds, in words, each once ("five-point", "seven-point")."""
        return list(dict.fromkeys(scale.points_in_words for scale in self.scales))

    @property
    def mixed(self) -> bool:
        """The scales differ in their numbers of points (the instructions name each one's)."""
        return len(self.lengths) > 1

    @property
    def example(self) -> RatingScale | None:
        return self.scales[0] if self.scales else None

    @property
    def others(self) -> list[RatingScale]:
        return self.scales[1:]


def rating_scales(participant: Participant) -> RatingScales:
    """The scales of the statements the participant will rate (under each text, then at the end), in their
    language: the instructions describe the study's own items, not a fixed five-point example."""
    items = [*_items_in_order(participant, participant.item_order), *end_items(participant)]
    shown = (tuple(languages.shown(item, "anchors", participant.language)) for item in items)
    return RatingScales([RatingScale(anchors) for anchors in dict.fromkeys(shown)])


def stimulus_id_for(participant: Participant, page: str) -> int | None:
    if page in (PRACTICE, PRACTICE_PREDICT):
        return participant.practice_stimulus_id
    trial = trial_of(page)
    if trial is None or not 1 <= trial <= len(participant.stimulus_sequence):
        return None
    return participant.stimulus_sequence[trial - 1]


@dataclass(frozen=True)
class TrialContent:
    stimulus_id: int
    texts: ShownTexts  # what the page shows, in the participant's language: the trace's text and the problem
    items: list[Item]  # in the order shown, the attention check included where it belongs


def trial_content(participant: Participant, page: str, shown: int | None = None) -> TrialContent:
    """The problem, trace and items of a trial page or of the practice page: the texts of version
    `shown` when the participant was shown that one there before (a refresh, going back), so a page
    never changes under them; else the current version. The version holds every language's texts; the
    page shows the participant's. Raises content.TextMissing."""
    stimulus_id = stimulus_id_for(participant, page)
    version = content.version(participant.study, stimulus_id, trial_condition(participant, page))
    if shown is not None and shown != version.pk:
        version = TraceVersion.objects.get(pk=shown)
    return TrialContent(stimulus_id, version.in_language(participant.language), page_items(participant, page))


def trial_items(participant: Participant, trial: int) -> list[Item]:
    """The per-trial items in the participant's stored order, with an attention check where the
    plan puts one on this trial."""
    items = _items_in_order(participant, participant.item_order)
    by_id = content.for_study(participant.study).items_by_id
    for check in participant.attention_plan:
        if check["trial"] == trial and check["item"] in by_id:
            items.insert(check["position"] - 1, by_id[check["item"]])
    return items


def page_items(participant: Participant, page: str) -> list[Item]:
    """The items of a trial page, or of the practice page (the per-trial items, no check); none on a
    prediction page (the items follow once the model's answer is revealed)."""
    if is_prediction(page):
        return []
    if page == PRACTICE:
        return _items_in_order(participant, participant.item_order)
    return trial_items(participant, trial_number(page))


def end_items(participant: Participant) -> list[Item]:
    return _items_in_order(participant, participant.end_item_order)


def _items_in_order(participant: Participant, ids: list[int]) -> list[Item]:
    by_id = content.for_study(participant.study).items_by_id
    return [by_id[i] for i in ids if i in by_id]


def saved_answers(participant: Participant, stimulus_id: int | None) -> dict[str, int]:
    """Item code → value already stored for this trial (or for the end questionnaire)."""
    rows = Response.objects.filter(participant=participant, stimulus_id=stimulus_id)
    return dict(rows.values_list("item__code", "value"))


def asks_judgement(participant: Participant, page: str) -> bool:
    """Whether the page asks for the trial's judgement: a verification study's trial (and practice)
    pages, a simulation study's prediction pages."""
    task = participant.study.trial_task
    if task == TrialTask.VERIFICATION:
        return page == PRACTICE or trial_number(page) is not None
    return task == TrialTask.SIMULATION and is_prediction(page)


def judged_stimulus(participant: Participant, page: str) -> Stimulus:
    """The stimulus of a trial, prediction or practice page as it stands now (its grades, candidates and
    answer: the ground truth), from the content cache. Raises content.TextMissing."""
    stimulus_id = stimulus_id_for(participant, page)
    return content.version(participant.study, stimulus_id, trial_condition(participant, page)).trace.stimulus


def marks_steps(participant: Participant, page: str) -> bool:
    """Whether the page asks for the first wrong step of its trace (the study's step_rating): a rating
    study's trial and practice pages, where the condition shows a trace."""
    return (participant.study.step_rating and (page == PRACTICE or trial_number(page) is not None)
            and condition_shown(participant, page).trace_kind != TraceKind.ANSWER_ONLY)


@dataclass(frozen=True)
class StepMark:
    """A participant's step mark: the trace's steps as shown, and the one marked as the first wrong step
    (from 1; step_rating.NO_WRONG_STEP for none)."""

    steps_shown: int
    first_wrong_step: int


def step_columns(participant: Participant, page: str, mark: StepMark | None) -> dict[str, object]:
    """The page visit's step-rating columns: the mark, and the graded first wrong step it is scored
    against (the stimulus's grades now, under the study's truth definition) where there is one."""
    if mark is None:
        return {}
    grades = judged_stimulus(participant, page).grades or {}
    truth = step_rating.first_wrong_step(grades, participant.study.truth_definition, mark.steps_shown)
    return {"steps_shown": mark.steps_shown, "first_wrong_step": mark.first_wrong_step,
            "first_wrong_step_truth": truth,
            "first_wrong_step_correct": None if truth is None else mark.first_wrong_step == truth}


def saved_step_mark(participant: Participant, page: str) -> int | None:
    """The first wrong step the participant marked on a page, once saved."""
    visits = PageVisit.objects.filter(participant=participant, page=page)
    return visits.values_list("first_wrong_step", flat=True).first()


def options_shown(participant: Participant, stimulus: Stimulus) -> list[str]:
    """A simulation trial's candidate answers in the order this participant sees them: shuffled once per
    participant and stimulus (seeded by both, so a refresh or going back shows the same order). As written
    in the study's own language, whatever the participant reads: a choice is stored and scored so."""
    options = list(stimulus.answer_candidates)
    random.Random(f"{participant.token}:{stimulus.pk}").shuffle(options)
    return options


def option_labels(participant: Participant, stimulus: Stimulus, options: list[str]) -> list[str]:
    """How each of `options` (candidates as written) reads in the participant's language: the candidate's
    translation, at its place among the stimulus's candidates."""
    translated = languages.shown(stimulus, "answer_candidates", participant.language)
    place = {candidate: n for n, candidate in enumerate(stimulus.answer_candidates)}
    return [translated[place[option]] if option in place else option for option in options]


@dataclass(frozen=True)
class Judgement:
    """What a participant answered to a trial's task: "yes"/"no" (verification) or the candidate chosen,
    "" for "none of these" (simulation); how confident (1..5); and the browser's ms from the text being on
    screen to the choice (None without JavaScript)."""

    choice: str
    confidence: int
    choice_ms: int | None = None


def scored(participant: Participant, stimulus: Stimulus, choice: str) -> tuple[bool, str]:
    """(correct, truth) of a choice on this stimulus under the study's task: verification against the
    answer's grade under the study's truth definition, simulation against the model's own answer."""
    study = participant.study
    if study.trial_task == TrialTask.VERIFICATION:
        truth = "yes" if stimulus.answer_correct(study.truth_definition) else "no"
        return choice == truth, truth
    return stimulus.predicts(choice), stimulus.model_answer


def saved_judgement(participant: Participant, stimulus_id: int | None) -> TrialJudgement | None:
    return TrialJudgement.objects.filter(participant=participant, stimulus_id=stimulus_id).first()


def _store_judgement(
    participant: Participant, page: str, judgement: Judgement, time_ms: int | None, now: datetime
) -> None:
    stimulus = judged_stimulus(participant, page)
    correct, truth = scored(participant, stimulus, judgement.choice)
    simulation = participant.study.trial_task == TrialTask.SIMULATION
    TrialJudgement.objects.create(
        participant=participant, stimulus_id=stimulus.pk, condition=trial_condition(participant, page),
        task=participant.study.trial_task, choice=judgement.choice, correct=correct, truth=truth,
        confidence=judgement.confidence, server_ms=time_ms, choice_ms=judgement.choice_ms,
        options_shown=options_shown(participant, stimulus) if simulation else [], submitted_at=now,
    )


@contextmanager
def submitting(slug: str, token: uuid.UUID) -> Iterator[Participant]:
    """One page's save: a transaction that first reads the participant, with its study and
    condition, under a lock on the participant's row. A double submit or a second tab waits here
    and then finds the page saved. Raises Participant.DoesNotExist.

    The submit_* functions below take the participant read here and must run inside it.
    """
    with transaction.atomic():
        yield participant_for_page(slug, token, lock=True)


def submit_consent(
    participant: Participant, agreed: bool, now: datetime | None = None, viewport_width: int | None = None
) -> Participant:
    now = now or timezone.now()
    _check_page(participant, CONSENT)
    _mark_submitted(participant, CONSENT, now)
    if agreed:
        participant.pages_done += 1
        participant.consented_at = now
    else:
        participant.status = Participant.Status.NO_CONSENT
        participant.ended_at = now
    participant.viewport_width = viewport_width
    participant.save(update_fields=["pages_done", "status", "ended_at", "consented_at", "viewport_width"])
    return participant


def submit_instructions(participant: Participant, now: datetime | None = None) -> Participant:
    now = now or timezone.now()
    _check_page(participant, INSTRUCTIONS)
    _mark_submitted(participant, INSTRUCTIONS, now)
    return _advance(participant)


@dataclass(frozen=True)
class Reading:
    """What the browser measured of the trace (empty without JavaScript): how long any of it was on
    screen, and whether, how soon (ms after the page began loading) and how long its last line was."""

    visible_ms: int | None = None
    end_seen: bool | None = None
    end_first_seen_ms: int | None = None
    end_visible_ms: int | None = None


#: The signs of automation a page's script may report (paradata_from drops any other word).
AUTOMATION_SIGNALS = ("webdriver", "headless", "phantom", "nightmare", "selenium")


@dataclass(frozen=True)
class Paradata:
    """What the participant did while a page was open, as the browser saw it (empty without
    JavaScript): times away and for how long in all (ms), pastes, copies from the problem or the
    trace, key presses, clicks and taps, and the signs of automation seen (AUTOMATION_SIGNALS)."""

    away_count: int | None = None
    away_ms: int | None = None
    paste_count: int | None = None
    copy_count: int | None = None
    key_count: int | None = None
    pointer_count: int | None = None
    automation_signals: tuple[str, ...] | None = None

    def columns(self) -> dict[str, object]:
        """The PageVisit columns this fills in."""
        signals = self.automation_signals
        return {
            "away_count": self.away_count, "away_ms": self.away_ms, "paste_count": self.paste_count,
            "copy_count": self.copy_count, "key_count": self.key_count, "pointer_count": self.pointer_count,
            "automated": None if signals is None else bool(signals),
            "automation_signals": ";".join(signals or ()),
        }


def submit_trial(
    participant: Participant,
    page: str,
    answers: dict[str, int],
    now: datetime | None = None,
    reading: Reading = Reading(),
    judgement: Judgement | None = None,
    paradata: Paradata = Paradata(),
    step_mark: StepMark | None = None,
) -> Participant:
    """Store one trial's (or the practice or a prediction page's) answers (item code → 1..5), already
    validated against page_items, its judgement where the page asks for one (asks_judgement, validated
    against the page's options), and what the browser measured of the reading. A failed attention check
    counts toward the study's limit."""
    now = now or timezone.now()
    _check_page(participant, page)
    if (judgement is not None) != asks_judgement(participant, page):
        raise ValueError(f"page {page} {'asks' if judgement is None else 'does not ask'} for a judgement")
    items = page_items(participant, page)
    if (step_mark is not None) != marks_steps(participant, page):
        raise ValueError(f"page {page} {'asks' if step_mark is None else 'does not ask'} for a step mark")
    time_ms = _mark_submitted(participant, page, now, reading, paradata,
                              step_columns(participant, page, step_mark))
    _store(participant, stimulus_id_for(participant, page), items, answers, time_ms, now)
    if judgement is not None:
        _store_judgement(participant, page, judgement, time_ms, now)
    for item in items:
        if item.is_attention_check:
            participant.attention_failures += answers[item.code] != item.expected_value
            limit = participant.study.attention_fail_limit
            participant.attention_passed = participant.attention_failures < limit
    return _advance(participant)


def submit_questionnaire(
    participant: Participant, answers: dict[str, int], comment: str, now: datetime | None = None,
    paradata: Paradata = Paradata(),
) -> Participant:
    """Store the end-of-study answers and finish: completed, or screened out on a failed check."""
    now = now or timezone.now()
    _check_page(participant, QUESTIONNAIRE)
    time_ms = _mark_submitted(participant, QUESTIONNAIRE, now, paradata=paradata)
    _store(participant, None, end_items(participant), answers, time_ms, now)
    participant.comment = comment
    participant.pages_done += 1
    participant.status = (
        Participant.Status.SCREENED_OUT
        if participant.attention_failures >= participant.study.attention_fail_limit
        else Participant.Status.COMPLETED
    )
    participant.ended_at = now
    participant.save(update_fields=["comment", "pages_done", "status", "ended_at"])
    return participant


#: Completions from Prolific before the consent page states their median time instead of the study's
#: estimate: the first few are often the fastest (or a researcher's tries) and would promise too little.
MEASURED_ESTIMATE_AFTER = 10


def estimated_minutes(study) -> tuple[int, bool]:
    """(minutes, measured): the median time completed participants took, rounded up, once
    MEASURED_ESTIMATE_AFTER have completed; else the study's own estimate. Previews, pilot bots and test
    runs never count."""
    times = completion_minutes(study)
    if len(times) < MEASURED_ESTIMATE_AFTER:
        return study.estimated_minutes, False
    return max(1, math.ceil(statistics.median(times))), True


def completion_code(participant: Participant) -> str | None:
    """The Prolific code this participant is sent back with, if any."""
    study = participant.study
    return {
        Participant.Status.COMPLETED: study.completion_code,
        Participant.Status.SCREENED_OUT: study.failed_attention_code,
        Participant.Status.NO_CONSENT: study.no_consent_code,
    }.get(participant.status)


def prolific_return_url(code: str) -> str:
    return f"{settings.PROLIFIC_COMPLETION_URL}?{urlencode({'cc': code})}"


def _check_page(participant: Participant, page: str) -> None:
    """Refuse to save unless inside submitting() and `page` is the one to submit now."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("a page is saved only inside services.submitting()")
    state = page_state(participant, page, submitting=True)
    if state in ("saved", "closed"):
        raise PageAlreadySaved(page)
    if state != "current":
        raise PageNotReached(page)


def _mark_submitted(
    participant: Participant, page: str, now: datetime, reading: Reading = Reading(),
    paradata: Paradata = Paradata(), steps: dict[str, object] | None = None,
) -> int | None:
    """Close the page's visit with what the browser measured; return the server time on page in
    ms (None if never shown)."""
    measured = {
        "trace_visible_ms": reading.visible_ms,
        "trace_end_seen": reading.end_seen,
        "trace_end_first_seen_ms": reading.end_first_seen_ms,
        "trace_end_visible_ms": reading.end_visible_ms,
        **paradata.columns(),
        **(steps or {}),
    }
    assignments = ", ".join(f"{column} = %s" for column in measured)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {PageVisit._meta.db_table} SET submitted_at = %s, {assignments} "  # noqa: S608
            "WHERE participant_id = %s AND page = %s RETURNING first_shown_at",
            [connection.ops.adapt_datetimefield_value(now), *measured.values(), participant.pk, page],
        )
        row = cursor.fetchone()
    if row is None:
        PageVisit.objects.create(
            participant=participant, page=page, stimulus_id=stimulus_id_for(participant, page),
            submitted_at=now, **measured,
        )
        return None
    first_shown = _aware(row[0])
    if first_shown is None:
        return None
    return max(0, round((now - first_shown).total_seconds() * 1000))


def _aware(value: datetime | str | None) -> datetime | None:
    """A timestamp read by raw SQL: SQLite gives naive UTC text, PostgreSQL an aware datetime."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)
    return value


def _store(
    participant: Participant,
    stimulus_id: int | None,
    items: list[Item],
    answers: dict[str, int],
    time_ms: int | None,
    now: datetime,
) -> None:
    """Insert the page's answers in one statement. (bulk_create built the same INSERT anew for every
    page, through a model instance per answer: a tenth of a participant's CPU in the benchmark.)"""
    if not items:  # every item of the page was deleted from the study since it was drawn
        return
    insert = insert_answers_as_arrays if connection.vendor == "postgresql" else insert_answers_as_rows
    with connection.cursor() as cursor:
        insert(cursor, participant.pk, stimulus_id, [(item.pk, answers[item.code]) for item in items],
               time_ms, connection.ops.adapt_datetimefield_value(now))


_ANSWER_COLUMNS = "(participant_id, stimulus_id, item_id, value, position, time_on_page_ms, submitted_at)"


def insert_answers_as_arrays(cursor: CursorWrapper, participant_id: int, stimulus_id: int | None,
                             answers: list[tuple[int, int]], time_ms: int | None, submitted: object) -> None:
    """PostgreSQL: the items and values as two arrays, positions from their order. The statement is the
    same whatever the number of items, so psycopg converts it once per process (it keeps no statement of
    over 50 parameters, and a row of VALUES per answer made 133 on a page of 19 items) and PostgreSQL can
    keep it prepared."""
    cursor.execute(
        f"INSERT INTO {Response._meta.db_table} {_ANSWER_COLUMNS} "  # noqa: S608 - the model's own table
        "SELECT %s::bigint, %s::bigint, item_id, value, position, %s::integer, %s::timestamptz "
        "FROM unnest(%s::bigint[], %s::integer[]) WITH ORDINALITY AS page (item_id, value, position)",
        [participant_id, stimulus_id, time_ms, submitted, [item for item, _ in answers],
         [value for _, value in answers]],
    )


def insert_answers_as_rows(cursor: CursorWrapper, participant_id: int, stimulus_id: int | None,
                           answers: list[tuple[int, int]], time_ms: int | None, submitted: object) -> None:
    """Any database: a row of VALUES per answer."""
    cursor.execute(
        f"INSERT INTO {Response._meta.db_table} {_ANSWER_COLUMNS} "  # noqa: S608 - the model's own table
        f"VALUES {', '.join(['(%s, %s, %s, %s, %s, %s, %s)'] * len(answers))}",
        [value for position, (item, answer) in enumerate(answers, start=1)
         for value in (participant_id, stimulus_id, item, answer, position, time_ms, submitted)],
    )


def _advance(participant: Participant) -> Participant:
    """Count the page as done (and keep the attention checks' outcome, set on their trials).

    One UPDATE in SQL: the ORM's save() built it anew on every page."""
    participant.pages_done += 1
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Participant._meta.db_table} SET pages_done = %s, attention_passed = %s, "  # noqa: S608
            "attention_failures = %s WHERE id = %s",
            [participant.pages_done, participant.attention_passed, participant.attention_failures,
             participant.pk],
        )
    return participant
