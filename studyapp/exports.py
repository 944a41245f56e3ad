"""A study's data as tables: the row-building logic shared by the API and ``export_study``.

Every export is a :class:`Table`: a header (plain ASCII column names) and a generator of rows (tuples
in header order) built from ``values_list`` querysets iterated with ``.iterator(chunk_size=…)``.
No model instance is created and no export is loaded whole: memory stays bounded by one chunk of
rows, one participant and the study's design (its items and stimuli), whatever the number of
responses. The same rows are written as CSV (:func:`csv_chunks`) or as one JSON array
(:func:`json_chunks`), so the API, the monitor's download buttons and the command give identical files;
the long export, the one that runs to millions of rows, has a writer of its own that gives the same
bytes at half the cost (:func:`_long_chunks`).

Cell values are the same in both formats: text, integers, ISO 8601 times (UTC), yes/no as 1/0, and
empty (CSV) / null (JSON) for anything missing. One exception, for spreadsheets' sake: in CSV, text
that starts like a formula gets a leading ' (see :func:`csv_chunks`); JSON keeps it verbatim.
"""

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain, islice
from operator import itemgetter

from django.db import transaction
from django.db.models import CharField, Max, Q, QuerySet
from django.db.models.functions import Cast
from django.http import StreamingHttpResponse

from . import counterbalancing, paradata, versions
from .models import (
    LIKERT_MAX,
    Construct,
    Item,
    PageVisit,
    Participant,
    Response,
    StimulusTrace,
    Study,
    TraceKind,
    TraceVersion,
    TrialJudgement,
)
from .pages import PRACTICE, PRACTICE_PREDICT, PREDICT_PREFIX, predict_number, trial_number
from .scales import Scale, scales_in

CHUNK_SIZE = 5000  # rows fetched from the database at a time
BATCH_ROWS = 2000  # rows encoded per chunk of output

_S = Participant.Status


class UnknownCondition(LookupError):
    """A condition filter names no condition of the study."""


class NotAParticipantFilter(ValueError):
    """A condition filter on a within-participants study, where every participant reads every condition."""


def check_condition_filter(study: Study, code: str | None) -> None:
    """Raise UnknownCondition (naming the study's conditions) or NotAParticipantFilter, saying why, if
    ``code`` cannot choose participants of this study; the API and ``export_study`` both ask here."""
    if not code:
        return
    codes = list(study.conditions.values_list("code", flat=True))
    if code not in codes:
        listed = ", ".join(codes)
        raise UnknownCondition(f"No condition '{code}' in {study.slug}; its conditions are {listed}.")
    if study.design == Study.Design.WITHIN:
        raise NotAParticipantFilter(
            f"{study.slug} is within participants: every participant reads every condition, so a condition "
            "chooses no participants. Export them all; each row's condition column says which condition "
            "its trial was in."
        )


@dataclass(frozen=True)
class ParticipantFilter:
    """Which participants an export covers; by default every real (non-preview) participant. A condition
    chooses participants between participants only (see check_condition_filter)."""

    condition: str | None = None
    status: str | None = None
    completed_only: bool = False
    include_previews: bool = False

    def q(self, study: Study, prefix: str = "") -> Q:
        """The filter as a Q on Participant (prefix "") or on a model pointing to it ("participant__")."""
        lookups: dict[str, object] = {f"{prefix}study": study}
        if self.condition:
            lookups[f"{prefix}condition__code"] = self.condition
        if self.status:
            lookups[f"{prefix}status"] = self.status
        if not self.include_previews:
            lookups[f"{prefix}is_preview"] = False
        q = Q(**lookups)
        if self.completed_only:
            q &= Q(**{f"{prefix}status": _S.COMPLETED})
        return q


@dataclass(frozen=True)
class Table:
    """One export: its file name stem, its columns (name → description) and a row generator."""

    name: str
    columns: list[tuple[str, str]]
    make_rows: Callable[[], Iterator[tuple]] = field(repr=False)
    #: fmt -> the table's bytes, where a table writes its rows faster than csv_chunks and json_chunks do
    #: (the same bytes); None: written by those.
    make_chunks: Callable[[str], Iterator[bytes]] | None = field(default=None, repr=False)

    @property
    def header(self) -> list[str]:
        return [name for name, _ in self.columns]

    def rows(self) -> Iterator[tuple]:
        return self.make_rows()

    def chunks(self, fmt: str) -> Iterator[bytes]:
        """The table as CSV (``fmt="csv"``) or a JSON array, a chunk of bytes at a time."""
        if self.make_chunks is not None:
            return self.make_chunks(fmt)
        return (csv_chunks if fmt == "csv" else json_chunks)(self.header, self.rows())

    def filename(self, study: Study, fmt: str) -> str:
        return f"{study.slug}-{self.name}.{fmt}"


def iso(value: datetime | None) -> str | None:
    """ISO 8601 as the exports write times (UTC from the database, so ``+00:00``); None stays None."""
    return None if value is None else value.isoformat()


def _flag(value: bool | None) -> int | None:
    return None if value is None else int(value)


def column_name(text: str) -> str:
    """A plain ASCII column name SPSS and R accept: letters, digits and underscores."""
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


# --- participants ------------------------------------------------------------------------------

# The paradata of a trial, practice or questionnaire page (what the participant did while it was open, as
# the browser counted it; the consent page names them). Empty on other pages and without JavaScript.
PARADATA_COLUMNS = [
    ("away_count", "times the participant left the page while it was open: the tab hidden or the browser "
                   "window out of focus (another tab, window or application)."),
    ("away_ms", "how long the participant was away from the page in all, in milliseconds."),
    ("paste_count", "pastes on the page (into the comment box, say); what was pasted is not recorded."),
    ("copy_count", "copies or cuts of text selected in the problem or the reasoning text, counted even "
                   "where the study blocks them (protect_problem_text); what was copied is not recorded."),
    ("key_count", "key presses on the page (not which keys)."),
    ("pointer_count", "clicks and taps on the page (not where)."),
    ("automated", "1 if the browser showed a sign of being driven by software (automation_signals), "
                  "else 0."),
    ("automation_signals", "the signs of automation seen, separated by ;: webdriver (navigator.webdriver, "
                           "set by WebDriver, Playwright and Puppeteer), headless (a headless browser's "
                           "user agent), phantom, nightmare, selenium (globals those tools leave)."),
]
PARADATA_FIELDS = [name for name, _ in PARADATA_COLUMNS]


def _paradata_cells(values: Sequence) -> tuple:
    """A page visit's PARADATA_FIELDS as export cells (automated as 1/0, no signals as empty)."""
    *counts, automated, signals = values
    return (*counts, _flag(automated), signals or None)


PARTICIPANT_COLUMNS = [
    ("study", "Study slug."),
    ("participant_id", "The participant's id, the same in every export of the study."),
    ("prolific_pid", "Prolific participant ID (PROLIFIC_PID)."),
    ("prolific_study_id", "Prolific STUDY_ID from the study link."),
    ("prolific_session_id", "Prolific SESSION_ID from the study link."),
    ("design", "between (each participant reads one condition) or within (each reads every condition): "
               "the study's design (see the codebook's design)."),
    ("condition", "Between participants: the participant's condition code (see the codebook's conditions); "
                  "empty within participants."),
    ("trial_conditions", "The condition code of each trial, in the order shown, separated by ;."),
    ("stimulus_list", "The counterbalancing list drawn at entry (from 0): between participants, which of its "
                      "condition's stimulus lists; within, the list and its rotation over the conditions "
                      "(list x conditions + rotation)."),
    ("condition_order", "Within participants: the row (from 0) of the Latin square that ordered the trials' "
                        "conditions; empty between participants."),
    ("status", "Participant status code (see the codebook's participant statuses)."),
    ("is_preview", "1 for a researcher's preview run, 0 for a participant from Prolific."),
    ("test_run", "1 for a researcher's try through the real study link (is_preview is 1 too), else 0."),
    ("started_at", "Arrival time (ISO 8601, UTC)."),
    ("ended_at", "When the participant finished or left the study; empty while active."),
    ("pages_done", "Pages submitted (consent, instructions, the practice problem, each trial, final "
                   "questions)."),
    ("consented_at", "When consent was given (ISO 8601, UTC); empty if not given."),
    ("attention_checks", "The attention checks shown to the participant, as trial:position (from 1), "
                         "separated by ;."),
    ("attention_failures", "How many attention checks the participant failed."),
    ("attention_passed", "1 if the failed checks stayed under the study's limit, 0 if they reached it; "
                         "empty before any check was answered."),
    ("practice_stimulus", "Code of the practice problem shown before the trials; empty if none."),
    ("device_class", "phone, tablet or desktop, from the browser at arrival; empty if it sent none."),
    ("viewport_width", "Width of the browser window at consent, in CSS pixels; empty without JavaScript."),
    ("language", "The language the participant read the study in (en, de, ...): the study link's lang, else "
                 "the browser's, among the study's languages, fixed at arrival."),
    ("comment", "The participant's optional comment at the end."),
    *[(f"{name}_total", f"Paradata over the participant's trial, practice and questionnaire pages: {text} "
                        "Summed over the pages measured; empty if none was (no JavaScript).")
      for name, text in PARADATA_COLUMNS if name in paradata.SUMMED],
    ("automated_any", "1 if any of the participant's pages saw a sign of automation (the page-times export "
                      "says which), 0 if pages were measured and none did; empty if none was measured."),
]
PARADATA_TOTALS = list(paradata.SUMMED)


def _checks_text(plan: list[dict]) -> str:
    return ";".join(f"{c['trial']}:{c['position']}" for c in sorted(plan, key=lambda c: c["trial"]))


def participants_queryset(study: Study, flt: ParticipantFilter) -> QuerySet:
    return Participant.objects.filter(flt.q(study)).order_by("id")


def participant_rows(study: Study, flt: ParticipantFilter) -> Iterator[tuple]:
    rows = participants_queryset(study, flt).values_list(
        "id", "prolific_pid", "prolific_study_id", "prolific_session_id", "condition__code",
        "trial_conditions", "stimulus_list", "condition_order", "status", "is_preview", "test_run",
        "started_at", "ended_at", "pages_done", "consented_at", "attention_plan", "attention_failures",
        "attention_passed", "practice_stimulus__code", "device_class", "viewport_width", "language",
        "comment",
    )
    slug, design = study.slug, study.design
    totals = paradata_totals(study, flt)
    unmeasured = (None,) * (len(PARADATA_TOTALS) + 1)
    for (pk, pid, sid, sess, cond, trial_conditions, stimulus_list, condition_order, status, preview,
         test_run, started, ended, pages, consented, plan, failures, a_passed, practice, device, viewport,
         language, comment) in rows.iterator(chunk_size=CHUNK_SIZE):
        yield (
            slug, pk, pid, sid, sess, design, cond, ";".join(trial_conditions), stimulus_list,
            condition_order, status, int(preview), int(test_run), iso(started), iso(ended), pages,
            iso(consented), _checks_text(plan), failures, _flag(a_passed), practice, device or None,
            viewport, language, comment, *totals.get(pk, unmeasured),
        )


def paradata_totals(study: Study, flt: ParticipantFilter) -> dict[int, tuple]:
    """The participants' paradata over their measured pages (studyapp.paradata.totals)."""
    return paradata.totals(PageVisit.objects.filter(flt.q(study, "participant__")))


def participants_table(study: Study, flt: ParticipantFilter) -> Table:
    return Table("participants", PARTICIPANT_COLUMNS, lambda: participant_rows(study, flt))


# --- what the browser measured of a trace -------------------------------------------------------

# The PageVisit fields of a trial (or practice) page's reading measures, with how each is described
# after "Trial pages: " (long and page-time exports) or "Trial <t>: " (wide export).
READING_COLUMNS = [
    ("trace_visible_ms", "how long any of the trace was on screen, in milliseconds, counted while the tab "
                         "was in front (measured by the browser; empty without JavaScript)."),
    ("trace_end_seen", "1 if the trace's last line was ever wholly on screen while the tab was in front, "
                       "else 0 (browser; empty without JavaScript). Nearly always 1 on a submitted page, "
                       "since the ratings sit below the trace: trace_end_first_seen_ms and "
                       "trace_end_visible_ms say how soon and for how long."),
    ("trace_end_first_seen_ms", "milliseconds from the page starting to load to the trace's last line "
                                "first being on screen (browser; empty if it never was, or without "
                                "JavaScript). It includes reading the facts and question; far less than "
                                "the trace takes to read suggests it was skimmed."),
    ("trace_end_visible_ms", "how long the trace's last line was on screen in all, in milliseconds, counted "
                             "while the tab was in front (browser; 0 if never, empty without JavaScript)."),
    ("trace_scroll_depth", "deprecated, no longer measured (empty on pages submitted since the trace_end_* "
                           "columns came): the share of the trace that had been on screen, 0 to 1. It was "
                           "1.0 on every submitted page, because the ratings sit below the trace."),
]
READING_FIELDS = [name for name, _ in READING_COLUMNS]
#: A step-rating study's trial pages (step_rating): the step mark and the graded step it is scored against.
STEP_COLUMNS = [
    ("steps_shown", "step rating: how many steps the trace was shown as (empty without step rating)."),
    ("first_wrong_step", "step rating: the step (from 1) the participant marked as the first wrong one; 0: "
                         "none."),
    ("first_wrong_step_truth", "step rating: the first wrong step by the stimulus's graded steps under the "
                               "study's truth definition (0: none wrong); empty where the trace is not "
                               "graded step by step (only decomposition traces are)."),
    ("first_wrong_step_correct", "step rating: 1 if the mark is the graded first wrong step, 0 if not; empty "
                                 "where there is no graded step."),
]
#: What a trial (or practice) page's visit adds to the exports: the reading measures, the version of the
#: texts shown, the step mark.
TRIAL_PAGE_COLUMNS = [*READING_COLUMNS, (
    "trace_version", "the version (from 1) of the texts the participant read, the trace and the problem as "
    "first shown to them (the texts export has every version); empty elsewhere and for pages shown before "
    "texts had versions."), *STEP_COLUMNS]
TRIAL_PAGE_FIELDS = [*READING_FIELDS, "trace_version__number", *(name for name, _ in STEP_COLUMNS)]
NO_TRIAL_PAGE = (None,) * len(TRIAL_PAGE_FIELDS)


def _trial_pages(columns: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(name, f"Trial pages: {text}") for name, text in columns]


# --- responses, long ---------------------------------------------------------------------------

LONG_COLUMNS = [
    ("study", "Study slug."),
    ("participant_id", "The participant's id, the same in every export of the study."),
    ("prolific_pid", "Prolific participant ID (PROLIFIC_PID)."),
    ("condition", "The condition code of the row's trial, whose text the answer is about (see the codebook's "
                  "conditions); the practice problem: the first trial's. End-of-study items: the "
                  "participant's condition between participants, empty within participants (who read every "
                  "condition)."),
    ("is_preview", "1 for a researcher's preview run, 0 for a participant from Prolific."),
    ("trial", "Position (from 1) of the stimulus in the participant's sequence; empty for end-of-study "
              "items and the practice problem."),
    ("practice", "1 for an answer about the practice problem (never analysed), else 0."),
    ("stimulus", "Stimulus code; empty for end-of-study items."),
    ("stimulus_list", "The participant's counterbalancing list (as in the participants export)."),
    ("construct", "Construct the item measures (see the codebook's items)."),
    ("item", "Item code (see the codebook's items)."),
    ("value", "The answer as chosen, 1 to the item's scale points (5 or 7; the codebook's anchors give the "
              "meaning of each value); reverse-keyed items are not reversed here (the codebook's "
              "reverse_keyed)."),
    ("position", "Position (from 1) at which the item was shown among its page's items."),
    ("time_on_page_ms", "Server time from first showing the page to its submission, in milliseconds; "
                        "empty if the page was never shown."),
    *_trial_pages(TRIAL_PAGE_COLUMNS),
    ("submitted_at", "When the page with this answer was submitted (ISO 8601, UTC)."),
]


def _response_values(study: Study, flt: ParticipantFilter, *fields: str) -> Iterator[tuple]:
    """The filtered participants' responses, ordered by participant then page then position.

    ``submitted_at_text`` is the submission time as the database writes it: turning text into a
    datetime is most of the cost of reading a row (Django's time-zone-aware loader is pure
    Python), and all the answers on a page share one time, so :func:`long_rows` parses each
    distinct time once.
    """
    return (
        Response.objects.filter(flt.q(study, "participant__"))
        .order_by("participant_id", "submitted_at", "position", "id")
        .annotate(submitted_at_text=Cast("submitted_at", CharField()))
        .values_list("participant_id", *fields)
        .iterator(chunk_size=CHUNK_SIZE)
    )


def _iso_from_text(text: str) -> str:
    """ISO 8601 in UTC from a time as PostgreSQL ("…+00") or SQLite (naive UTC) writes it as text;
    the same string as ``datetime.isoformat()`` gives for the value read through the ORM."""
    value = datetime.fromisoformat(text)
    return (value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)).isoformat()


def _people(study: Study, flt: ParticipantFilter, *fields: str) -> Iterator[tuple]:
    return participants_queryset(study, flt).values_list("id", *fields).iterator(chunk_size=CHUNK_SIZE)


def _seek(people: Iterator[tuple], participant_id: int) -> tuple:
    """Advance the participants (ordered by id) to this one; both queries select the same people."""
    for person in people:
        if person[0] == participant_id:
            return person
    raise RuntimeError(f"Participant {participant_id} is missing from the participants query.")


def _reading_cells(values: tuple) -> tuple:
    """A page visit's TRIAL_PAGE_FIELDS as export cells (the yes/no ones as 1/0)."""
    visible, end_seen, *rest, correct = values
    return (visible, _flag(end_seen), *rest, _flag(correct))


class _Readings:
    """What the browser measured on each trial page, and the version of the texts shown, one participant
    at a time, read in participant order beside the answers: stimulus id -> the cells of
    TRIAL_PAGE_COLUMNS. A simulation trial's are its trial page's (the answer revealed, the whole text,
    the ratings); its prediction page's are in the page times."""

    def __init__(self, study: Study, flt: ParticipantFilter) -> None:
        self._rows = (
            PageVisit.objects.filter(flt.q(study, "participant__"), stimulus__isnull=False)
            .exclude(page__startswith=PREDICT_PREFIX)
            .order_by("participant_id")
            .values_list("participant_id", "stimulus_id", *TRIAL_PAGE_FIELDS)
            .iterator(chunk_size=CHUNK_SIZE)
        )
        self._pending = next(self._rows, None)

    def of(self, participant_id: int) -> dict[int, tuple]:
        found = {}
        while self._pending is not None and self._pending[0] <= participant_id:
            pk, stimulus_id, *values = self._pending
            if pk == participant_id:
                found[stimulus_id] = _reading_cells(values)
            self._pending = next(self._rows, None)
        return found


def page_condition(
    trial_conditions: list[str], own: str | None, trial: int | None, practice: bool
) -> str | None:
    """The condition of what a page showed: a trial's own (the practice page: the first trial's, as
    services.trial_condition); any other page, the participant's condition (None within participants)."""
    if trial is not None and 0 < trial <= len(trial_conditions):
        return trial_conditions[trial - 1]
    if practice and trial_conditions:
        return trial_conditions[0]
    return own


_LongParts = tuple[tuple, tuple, int, int, int | None, tuple]


def _long_parts(study: Study, flt: ParticipantFilter) -> Iterator[_LongParts]:
    """The long export's rows in parts: (before, item, value, position, time_on_page_ms, after), where
    ``before`` holds the cells up to the stimulus list, ``item`` the construct and item code and ``after``
    the trial page's cells and the submission time.

    Responses and participants are both read in participant order and merged here, so each
    participant's details, trial numbers and trial conditions are looked up once, not joined into every
    answer. The answers on a page share their ``before`` and ``after`` objects and every answer to an
    item its ``item``, so a writer formats those once (see :func:`_long_chunks`).
    """
    slug = study.slug
    stimuli = dict(study.stimuli.values_list("id", "code"))
    items = {pk: (construct, code)
             for pk, code, construct in study.items.values_list("id", "code", "construct")}
    people = _people(study, flt, "prolific_pid", "condition__code", "is_preview", "stimulus_sequence",
                     "trial_conditions", "stimulus_list")
    readings = _Readings(study, flt)
    answers = _response_values(
        study, flt, "stimulus_id", "item_id", "value", "position", "time_on_page_ms", "submitted_at_text"
    )
    current = page = None
    trials: dict[int, tuple[int, str | None]] = {}
    practice_condition = own = stimulus_list = None
    preview = 0
    read: dict[int, tuple] = {}
    before: tuple = ()
    after: tuple = ()
    last_at = None
    for participant_id, stimulus_id, item_id, value, position, ms, at in answers:
        if participant_id != current:
            pk, pid, own, is_preview, sequence, trial_conditions, stimulus_list = _seek(
                people, participant_id
            )
            current, page = participant_id, None
            head, preview = (slug, pk, pid), int(is_preview)
            trials = {s: (n, page_condition(trial_conditions, own, n, False))
                      for n, s in enumerate(sequence, start=1)}
            practice_condition = page_condition(trial_conditions, own, None, True)
            read = readings.of(participant_id)
        if (stimulus_id, at) != page:
            if stimulus_id is None:
                before = (*head, own, preview, None, 0, None, stimulus_list)
                reading = NO_TRIAL_PAGE
            else:
                trial, condition = trials.get(stimulus_id, (None, practice_condition))
                before = (*head, condition, preview, trial, int(trial is None), stimuli[stimulus_id],
                          stimulus_list)
                reading = read.get(stimulus_id, NO_TRIAL_PAGE)
            if at != last_at:
                last_at, last_at_text = at, _iso_from_text(at)
            page, after = (stimulus_id, at), (*reading, last_at_text)
        yield before, items[item_id], value, position, ms, after


def long_rows(study: Study, flt: ParticipantFilter) -> Iterator[tuple]:
    """One row per participant x stimulus x item (end-of-study items: stimulus and trial empty)."""
    for before, item, value, position, ms, after in _long_parts(study, flt):
        yield (*before, *item, value, position, ms, *after)


def _long_chunks(study: Study, flt: ParticipantFilter, fmt: str) -> Iterator[bytes]:
    """The long export exactly as :func:`csv_chunks` or :func:`json_chunks` write :func:`long_rows`, at
    a fraction of the cost: each part of :func:`_long_parts` is formatted once, by the same writer, when
    it changes, and a row is those texts joined around its own three numbers."""
    header = [name for name, _ in LONG_COLUMNS]
    item_at = header.index("construct")
    before_names, item_names = header[:item_at], header[item_at:item_at + 2]
    after_names = header[item_at + 5:]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)

        def part(cells: tuple, names: list[str]) -> str:
            buffer.seek(0)
            buffer.truncate()
            writer.writerow((*map(_inert, cells), 0))  # a last cell: a lone "" would be quoted
            return buffer.getvalue()[:-4]  # less ",0\r\n"

        writer.writerow(header)
        yield buffer.getvalue().encode()
        line = "{},{},{},{},{},{}\r\n".format
        glue, null = "", ""
    else:
        encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

        def part(cells: tuple, names: list[str]) -> str:
            return encode(dict(zip(names, cells, strict=True)))[1:-1]

        value_key, position_key, ms_key = map(encode, header[item_at + 2:item_at + 5])
        line = ("{{{},{}," + value_key + ":{}," + position_key + ":{}," + ms_key + ":{},{}}}").format
        yield b"["
        glue, null = ",", "null"
    item_texts: dict[tuple, str] = {}
    last_before = last_after = None
    before_text = after_text = lead = ""
    lines: list[str] = []
    # In a transaction the queries' server-side cursors are declared without hold, so PostgreSQL sends
    # rows as it reads them; outside one Django holds them, and PostgreSQL runs each query to the end
    # and stores its result before the first row (1M rows: a second more, and a temporary file).
    with transaction.atomic():
        for before, item, value, position, ms, after in _long_parts(study, flt):
            if before is not last_before:
                last_before, before_text = before, part(before, before_names)
            if after is not last_after:
                last_after, after_text = after, part(after, after_names)
            if (item_text := item_texts.get(item)) is None:
                item_text = item_texts[item] = part(item, item_names)
            ms_text = null if ms is None else ms
            lines.append(line(before_text, item_text, value, position, ms_text, after_text))
            if len(lines) == BATCH_ROWS:
                yield (lead + glue.join(lines)).encode()
                lead, lines = glue, []
    if lines:
        yield (lead + glue.join(lines)).encode()
    if fmt == "json":
        yield b"]"


def long_table(study: Study, flt: ParticipantFilter) -> Table:
    return Table("responses", LONG_COLUMNS, lambda: long_rows(study, flt),
                 make_chunks=lambda fmt: _long_chunks(study, flt, fmt))


# --- responses, wide ---------------------------------------------------------------------------

WIDE_PARTICIPANT_COLUMNS = [
    ("study", "Study slug."),
    ("participant_id", "The participant's id, the same in every export of the study."),
    ("prolific_pid", "Prolific participant ID (PROLIFIC_PID)."),
    ("condition", "Between participants: the participant's condition code (see the codebook's conditions); "
                  "empty within participants (each trial's is t<n>_condition)."),
    ("stimulus_list", "The counterbalancing list drawn at entry (as in the participants export)."),
    ("condition_order", "Within participants: the Latin square's row that ordered the trials' conditions."),
    ("status", "Participant status code (see the codebook's participant statuses)."),
    ("is_preview", "1 for a researcher's preview run, 0 for a participant from Prolific."),
    ("started_at", "Arrival time (ISO 8601, UTC)."),
    ("ended_at", "When the participant finished or left the study; empty while active."),
    ("attention_failures", "How many attention checks the participant failed."),
    ("attention_passed", "1 if the failed checks stayed under the study's limit, 0 if they reached it; "
                         "empty before any check was answered."),
    ("device_class", "phone, tablet or desktop, from the browser at arrival."),
    ("viewport_width", "Width of the browser window at consent, in CSS pixels; empty without JavaScript."),
]


@dataclass(frozen=True)
class WideLayout:
    """Where each answer goes in a wide row: (trial, item id) or ("end", item id) → column index;
    attention checks in the order of their trials, each as trial, item and answer."""

    columns: list[tuple[str, str]]
    cells: dict[tuple[object, int], int]
    stimulus_cells: dict[int, int]  # trial → column of its stimulus code (its condition's follows)
    time_cells: dict[object, int]  # trial or "end" → column of its time on page
    reading_cells: dict[int, int]  # trial → column of its first reading measure (the rest follow)
    check_cells: list[int]  # k-th check → column of its trial (item and answer follow)
    judgement_cells: dict[int, int] = field(default_factory=dict)  # trial → its t<n>_choice (the rest follow)
    scales: list[Scale] = field(default_factory=list)  # the library's covariate scales among the end items
    score_cells: dict[str, int] = field(default_factory=dict)  # score code → its score_<code> column


#: Verification and simulation studies: each trial's judgement in the wide export (t<n>_<name>).
WIDE_JUDGEMENT_COLUMNS = [
    ("choice", "the judgement: yes or no (verification), the candidate chosen, empty for \"none of these\" "
               "(simulation)."),
    ("correct", "1 if the judgement matches the ground truth, else 0."),
    ("confidence", "confidence in the judgement, 1 (not at all) to 5 (completely), on the study's anchors."),
    ("choice_ms", "ms from the text (answer_only: the problem) being on screen to the choice (browser; "
                  "empty without JavaScript)."),
]


def wide_layout(study: Study, flt: ParticipantFilter) -> WideLayout:
    columns = list(WIDE_PARTICIPANT_COLUMNS)
    cells: dict[tuple[object, int], int] = {}
    stimulus_cells: dict[int, int] = {}
    time_cells: dict[object, int] = {}
    reading_cells: dict[int, int] = {}
    judgement_cells: dict[int, int] = {}
    check_cells: list[int] = []
    items = list(study.items.order_by("scope", "position", "code"))
    trial_items = [i for i in items if i.scope == Item.Scope.TRIAL and not i.is_attention_check]
    end_items = [i for i in items if i.scope == Item.Scope.END]
    # Trials and checks per participant: the study's settings, or more if a setting was lowered after
    # some participants started (one pass over the participants, no answers read).
    n_trials, n_checks = study.trials_per_participant, study.attention_checks
    plans = participants_queryset(study, flt).values_list("stimulus_sequence", "attention_plan")
    for sequence, plan in plans.iterator(chunk_size=CHUNK_SIZE):
        n_trials, n_checks = max(n_trials, len(sequence)), max(n_checks, len(plan))
    for k in range(1, n_checks + 1):
        check_cells.append(len(columns))
        columns += [
            (f"attention_{k}_trial", f"Attention check {k} (in trial order): its trial."),
            (f"attention_{k}_item", f"Attention check {k}: its item code (the codebook gives the answer "
                                    "it asks for)."),
            (f"attention_{k}_value", f"Attention check {k}: the answer given (on its item's scale)."),
        ]
    for t in range(1, n_trials + 1):
        stimulus_cells[t] = len(columns)
        columns += [
            (f"t{t}_stimulus", f"Trial {t}: stimulus code."),
            (f"t{t}_condition", f"Trial {t}: the code of the condition whose text was read."),
        ]
        time_cells[t] = len(columns)
        columns.append((f"t{t}_time_on_page_ms", f"Trial {t}: server time on the page, in milliseconds."))
        reading_cells[t] = len(columns)
        columns += [(f"t{t}_{name}", f"Trial {t}: {text}") for name, text in TRIAL_PAGE_COLUMNS]
        if study.judged:
            judgement_cells[t] = len(columns)
            columns += [(f"t{t}_{name}", f"Trial {t}: {text}") for name, text in WIDE_JUDGEMENT_COLUMNS]
        for item in trial_items:
            cells[(t, item.id)] = len(columns)
            columns.append((column_name(f"t{t}_{item.code}"), f"Trial {t}: {item.code} {_scale(item)}"))
    for item in end_items:
        cells[("end", item.id)] = len(columns)
        columns.append((column_name(f"end_{item.code}"), f"End of study: {item.code} {_scale(item)}"))
    time_cells["end"] = len(columns)
    columns.append(("end_time_on_page_ms", "End-of-study page: server time on the page, in milliseconds."))
    scales = scales_in(item.code for item in end_items)
    score_cells: dict[str, int] = {}
    for scale in scales:
        for score in scale.scores:
            score_cells[score.code] = len(columns)
            rule = ("the answer as given" if score.rule == "answer"
                    else "the mean of its items, reverse-keyed ones turned")
            columns.append((column_name(f"score_{score.code}"), (
                f"Covariate score: {score.label} ({scale.abbreviation}; {rule}), scored as {scale.citation} "
                "publish it; empty if an item of it was left unanswered.")))
    return WideLayout(columns, cells, stimulus_cells, time_cells, reading_cells, check_cells, judgement_cells,
                      scales, score_cells)


def _scale(item: Item) -> str:
    """An item's scale and wording, as the wide columns describe it."""
    keyed = ", reverse-keyed: stored as chosen" if item.reverse_keyed else ""
    return f"(1-{item.scale_points}{keyed}). {item.text}"


def wide_rows(study: Study, flt: ParticipantFilter, layout: WideLayout) -> Iterator[tuple]:
    """One row per participant, answers placed by (trial, item); one participant in memory at a time."""
    slug = study.slug
    width = len(layout.columns)
    stimuli = dict(study.stimuli.values_list("id", "code"))
    item_codes = dict(study.items.values_list("id", "code"))
    cells, stimulus_cells, time_cells = layout.cells, layout.stimulus_cells, layout.time_cells
    people = _people(
        study, flt, "prolific_pid", "condition__code", "stimulus_list", "condition_order", "status",
        "is_preview", "started_at", "ended_at", "attention_failures", "attention_passed", "device_class",
        "viewport_width", "stimulus_sequence", "trial_conditions", "attention_plan",
    )
    readings = _Readings(study, flt)
    answers = _response_values(study, flt, "stimulus_id", "item_id", "value", "time_on_page_ms")
    pending = next(answers, None)
    judgements = _judgement_values(study, flt, "stimulus_id", "choice", "correct", "confidence", "choice_ms")
    judged = next(judgements, None)
    first = len(WIDE_PARTICIPANT_COLUMNS)
    for (pk, pid, cond, stimulus_list, condition_order, status, preview, started, ended, failures, a_passed,
         device, viewport, sequence, trial_conditions, plan) in people:
        row: list[object] = [None] * width
        row[:first] = (slug, pk, pid, cond, stimulus_list, condition_order, status, int(preview),
                       iso(started), iso(ended), failures, _flag(a_passed), device or None, viewport)
        trials = {s: n for n, s in enumerate(sequence, start=1)}
        checks = {}  # (trial, item id) -> column of its answer
        end_answers = {}  # item code -> value, for the covariate scores
        for k, check in enumerate(sorted(plan, key=lambda c: c["trial"])):
            column = layout.check_cells[k]
            row[column], row[column + 1] = check["trial"], item_codes.get(check["item"])
            checks[(check["trial"], check["item"])] = column + 2
        for stimulus_id, cells_read in readings.of(pk).items():
            if stimulus_id in trials:
                column = layout.reading_cells[trials[stimulus_id]]
                row[column:column + len(cells_read)] = cells_read
        while judged is not None and judged[0] == pk:
            _, stimulus_id, choice, correct, confidence, choice_ms = judged
            t = trials.get(stimulus_id)
            if t is not None and t in layout.judgement_cells:  # the practice problem's is not in the table
                column = layout.judgement_cells[t]
                row[column:column + 4] = (choice, int(correct), confidence, choice_ms)
                row[stimulus_cells[t]] = stimuli[stimulus_id]
                row[stimulus_cells[t] + 1] = page_condition(trial_conditions, cond, t, False)
            judged = next(judgements, None)
        while pending is not None and pending[0] == pk:
            _, stimulus_id, item_id, value, ms = pending
            t = trials.get(stimulus_id)
            if stimulus_id is None:
                row[cells[("end", item_id)]] = value
                row[time_cells["end"]] = ms
                end_answers[item_codes[item_id]] = value
            elif t is None:
                pass  # the practice problem: not in the wide table
            elif (t, item_id) in checks:
                row[checks[(t, item_id)]] = value
            else:
                row[cells[(t, item_id)]] = value
                row[stimulus_cells[t]] = stimuli[stimulus_id]
                row[stimulus_cells[t] + 1] = page_condition(trial_conditions, cond, t, False)
                row[time_cells[t]] = ms
            pending = next(answers, None)
        for scale in layout.scales:
            for code, score in scale.score(end_answers).items():
                row[layout.score_cells[code]] = score
        yield tuple(row)


def _judgement_values(study: Study, flt: ParticipantFilter, *fields: str) -> Iterator[tuple]:
    """(participant id, *fields) of the participants' judgements, in participant order."""
    rows = TrialJudgement.objects.filter(flt.q(study, "participant__")).order_by("participant_id", "id")
    return rows.values_list("participant_id", *fields).iterator(chunk_size=CHUNK_SIZE)


def wide_table(study: Study, flt: ParticipantFilter) -> Table:
    layout = wide_layout(study, flt)
    return Table("responses-wide", layout.columns, lambda: wide_rows(study, flt, layout))


# --- judgements (verification and simulation) ---------------------------------------------------

JUDGEMENT_COLUMNS = [
    ("study", "Study slug."),
    ("participant_id", "The participant's id, the same in every export of the study."),
    ("prolific_pid", "Prolific participant ID (PROLIFIC_PID)."),
    ("is_preview", "1 for a researcher's preview run or a pilot bot, 0 for a participant from Prolific."),
    ("stimulus_id", "The stimulus's id."),
    ("stimulus", "The stimulus's code."),
    ("trial", "Trial number (from 1); empty for the practice problem."),
    ("practice", "1 for the practice problem (never analysed), else 0."),
    ("condition", "The code of the condition whose text the trial showed."),
    ("task", "verification (is the model's answer correct?) or simulation (which answer will the model "
             "give?)."),
    ("choice", "Verification: yes or no. Simulation: the candidate chosen, empty for \"none of these\"."),
    ("correct", "1 if the choice matches the ground truth (truth), else 0."),
    ("truth", "The ground truth when the judgement was made: yes or no, the model's answer graded under "
              "the study's truth definition (verification); the model's own answer (simulation)."),
    ("confidence", "1 (not at all confident) to 5 (completely confident), on the study's anchors "
                   "(codebook)."),
    ("server_ms", "Server time from first showing the page to its submission, in ms."),
    ("choice_ms", "Browser: ms from the text first being on screen to the (last) choice (answer_only "
                  "conditions: the problem with the answer); empty without JavaScript or when out of range."),
    ("options_shown", "Simulation: the candidates in the order shown (JSON list); \"none of these\" came "
                      "last."),
    ("submitted_at", "When the page was submitted (ISO 8601, UTC)."),
    ("truth_definition", "Which grade is the ground truth: strict or published (the study's)."),
    ("answer_correct", "The stimulus's grade now: 1 if the model's answer is right under the study's truth "
                       "definition, 0 if wrong, empty if not graded."),
    ("trace_correct", "The stimulus's grade now: 1 if both steps of the decomposition trace (classification "
                      "and retrieval) are right under that definition, 0 if not, empty if not graded."),
    ("grades_source", "Where the stimulus's grades come from (evaluation, model, setting)."),
]


def judgement_rows(study: Study, flt: ParticipantFilter) -> Iterator[tuple]:
    """One row per judgement, with the stimulus's grades under the study's truth definition (read once)."""
    definition = study.truth_definition
    stimuli = {
        stimulus.pk: (stimulus.code, _flag(stimulus.answer_correct(definition)),
                      _flag(stimulus.trace_correct(definition)), (stimulus.grades or {}).get("source"))
        for stimulus in study.stimuli.only("code", "grades")
    }
    people = _people(study, flt, "prolific_pid", "is_preview", "stimulus_sequence")
    current, pid, preview, trials = None, None, False, {}
    for (pk, stimulus_id, condition, task, choice, correct, truth, confidence, server_ms, choice_ms, options,
         submitted) in _judgement_values(
            study, flt, "stimulus_id", "condition", "task", "choice", "correct", "truth", "confidence",
            "server_ms", "choice_ms", "options_shown", "submitted_at"):
        if pk != current:
            current, pid, preview, sequence = _seek(people, pk)
            trials = {s: n for n, s in enumerate(sequence, start=1)}
        code, answer_correct, trace_correct, source = stimuli[stimulus_id]
        trial = trials.get(stimulus_id)
        yield (study.slug, pk, pid, int(preview), stimulus_id, code, trial, int(trial is None), condition,
               task, choice, int(correct), truth, confidence, server_ms, choice_ms,
               json.dumps(options, ensure_ascii=False) if options else None, iso(submitted), definition,
               answer_correct, trace_correct, source)


def judgements_table(study: Study, flt: ParticipantFilter) -> Table:
    return Table("judgements", JUDGEMENT_COLUMNS, lambda: judgement_rows(study, flt))


# --- page times --------------------------------------------------------------------------------

PAGE_TIME_COLUMNS = [
    ("study", "Study slug."),
    ("participant_id", "The participant's id, the same in every export of the study."),
    ("prolific_pid", "Prolific participant ID (PROLIFIC_PID)."),
    ("condition", "The condition code of the text the page showed: a trial page's trial's, the practice "
                  "page's the first trial's; other pages the participant's condition between participants, "
                  "empty within participants."),
    ("page", "Page key: consent, instructions, practice, trial-1 … trial-N, questionnaire; in a simulation "
             "study each trial's prediction page (predict-N, predict-practice) comes before it."),
    ("trial", "Trial number (from 1) for a trial page; empty otherwise."),
    ("stimulus", "Stimulus code shown on a trial or practice page; empty otherwise."),
    ("first_shown_at", "When the page was first shown (ISO 8601, UTC); empty if never shown."),
    ("last_shown_at", "When the page was last shown (a refresh or a return moves it)."),
    ("submitted_at", "When the page was submitted; empty if not submitted."),
    ("seconds_on_page", "submitted_at minus first_shown_at, in seconds; empty if either is missing."),
    *_trial_pages(TRIAL_PAGE_COLUMNS),
    *[(name, f"Trial, practice and questionnaire pages: {text}") for name, text in PARADATA_COLUMNS],
]


def page_time_rows(study: Study, flt: ParticipantFilter) -> Iterator[tuple]:
    """One row per page visit; each participant's condition and trial conditions are read once, beside
    the visits (both in participant order)."""
    visits = (
        PageVisit.objects.filter(flt.q(study, "participant__"))
        .order_by("participant_id", "id")
        .values_list(
            "participant_id", "page", "stimulus__code", "first_shown_at", "last_shown_at", "submitted_at",
            *TRIAL_PAGE_FIELDS, *PARADATA_FIELDS,
        )
    )
    n_reading = len(TRIAL_PAGE_FIELDS)
    people = _people(study, flt, "prolific_pid", "condition__code", "trial_conditions")
    slug = study.slug
    current, pid, own, trial_conditions = None, None, None, []
    for pk, page, stimulus, first, last, submitted, *measured in visits.iterator(chunk_size=CHUNK_SIZE):
        if pk != current:
            current, pid, own, trial_conditions = _seek(people, pk)
        seconds = (
            round((submitted - first).total_seconds(), 3) if first is not None and submitted is not None
            else None
        )
        trial = trial_number(page) or predict_number(page)
        condition = page_condition(trial_conditions, own, trial, page in (PRACTICE, PRACTICE_PREDICT))
        yield (slug, pk, pid, condition, page, trial, stimulus, iso(first), iso(last), iso(submitted),
               seconds, *_reading_cells(measured[:n_reading]), *_paradata_cells(measured[n_reading:]))


def page_times_table(study: Study, flt: ParticipantFilter) -> Table:
    return Table("page-times", PAGE_TIME_COLUMNS, lambda: page_time_rows(study, flt))


# --- codebook ----------------------------------------------------------------------------------

CODEBOOK_COLUMNS = [
    ("section", "design, trial_task (the task, its ground truth and the confidence scale's anchors), "
                "condition_order (within participants: a row of the Latin square), condition, item, "
                "participant_status, or <export>_column for a column of an export."),
    ("code", "Design (between or within), Latin-square row (from 0), condition code, item code, status code "
             "or column name."),
    ("label", "The design in words, the row's conditions in trial order (separated by ;), condition label, "
              "item wording, status label or column description."),
    ("construct", "Items: the construct measured."),
    ("scope", "Items: trial (under every trace) or end (end of study)."),
    ("scale_points", "Items: the points of the scale (5 or 7); the answers run from 1 to it."),
    ("reverse_keyed", "Items: 1 if agreement means less of the construct (scored as scale_points + 1 - "
                      "value in the analysis; the exports keep the answer as chosen), else 0."),
    ("expected_value", "Attention checks: the instructed answer."),
    *[(f"anchor_{n}", f"Items: label of value {n}{'' if n <= 5 else ' (7-point items)'}.")
      for n in range(1, LIKERT_MAX + 1)],
    ("heading", "Conditions: the heading shown above the text on the trial page."),
    ("trace_kind", "Conditions: the kind of text (decomposition, reasoning, summary, explanation, "
                   "imported, or answer_only: no text, the model's answer alone)."),
    ("source", "Items: the instrument the item is adapted from. Conditions: where its texts come from."),
]


# --- stimuli: every condition's text and where it came from -------------------------------------

STIMULUS_COLUMNS = [
    ("study", "Study slug."),
    ("stimulus_id", "The stimulus's id (the responses' stimulus_id)."),
    ("stimulus", "The stimulus's code (the problem's source id)."),
    ("is_practice", "1 for the practice problem."),
    ("condition", "Condition code: whose participants read this text."),
    ("words", "Words in the text."),
    ("problem", "The problem it was made for, dataset:source id."),
    ("trace_id", "The reference trace it was taken from; empty for the rule-based decomposition."),
    ("trace_source", "Where that trace came from: a job (job #N) or an imported file; or the rule."),
    ("job", "The job that made the trace; empty when imported."),
    ("model", "The model that wrote the trace."),
    ("prompt", "The chat the model was given (JSON list of role and content)."),
    ("based_on", "The reasoning trace a summary or explanation was made from (trace id)."),
    ("readers", "How many participants read this text: had this stimulus on a trial in this condition."),
    ("reader_ids", "Their participant ids, separated by ;."),
    ("version", "The version of the texts shown now (the texts export has every version and its readers)."),
]


def trace_readers(
    study: Study, include_previews: bool = False
) -> dict[tuple[int, str], list[tuple[int, str]]]:
    """(stimulus id, condition) -> (participant id, PROLIFIC_PID) of the participants who read it on one of
    their trials (or as their practice problem, in the first trial's condition)."""
    readers: dict[tuple[int, str], list[tuple[int, str]]] = {}
    people = Participant.objects.filter(study=study)
    if not include_previews:
        people = people.filter(is_preview=False)
    rows = people.order_by("pk").values_list(
        "pk", "prolific_pid", "condition__code", "stimulus_sequence", "trial_conditions",
        "practice_stimulus_id",
    )
    for pk, pid, own, sequence, trial_conditions, practice in rows:
        read = {(stimulus_id, page_condition(trial_conditions, own, n, False))
                for n, stimulus_id in enumerate(sequence or [], start=1)}
        if practice:
            read.add((practice, page_condition(trial_conditions, own, None, True)))
        for key in read:
            readers.setdefault(key, []).append((pk, pid))
    return readers


def stimulus_rows(study: Study) -> Iterator[tuple]:
    readers = trace_readers(study)
    traces = StimulusTrace.objects.filter(stimulus__study=study).select_related("stimulus").annotate(
        version=Max("versions__number")
    )
    for trace in traces.order_by("stimulus_id", "condition"):
        facts = trace.provenance or {}
        ids = [str(pk) for pk, _ in readers.get((trace.stimulus_id, trace.condition), [])]
        yield (
            study.slug, trace.stimulus_id, trace.stimulus.code, int(trace.stimulus.is_practice),
            trace.condition,
            len(trace.text.split()), facts.get("problem"), trace.reference_trace_id, facts.get("source"),
            facts.get("job"), facts.get("model"),
            json.dumps(facts["prompt"], ensure_ascii=False) if facts.get("prompt") else None,
            facts.get("based_on"), len(ids), ";".join(ids), trace.version,
        )


def stimuli_table(study: Study) -> Table:
    return Table("stimuli", STIMULUS_COLUMNS, lambda: stimulus_rows(study))


# --- texts: every version of what participants read, and who read which -------------------------

TEXT_COLUMNS = [
    ("study", "Study slug."),
    ("stimulus_id", "The stimulus's id (the responses' stimulus_id)."),
    ("stimulus", "The stimulus's code."),
    ("condition", "Condition code: whose participants read this text."),
    ("version", "The version (from 1): the responses' and page times' trace_version."),
    ("created_at", "When this version was made (ISO 8601, UTC): the first text, or a change to it."),
    ("created_by", "Who made the change, when made in the admin; empty otherwise."),
    ("changed", "Which texts differ from the version before, separated by ;."),
    ("context_facts", "The context facts shown (JSON list)."),
    ("question", "The question shown."),
    ("model_answer", "The model's answer shown."),
    ("text", "The condition's text shown (the trace, summary or explanation)."),
    ("readers", "How many participants (previews left out) were shown this version."),
    ("reader_ids", "Their participant ids, separated by ;."),
]


def text_rows(study: Study) -> Iterator[tuple]:
    shown_to = versions.readers(participant__study=study, participant__is_preview=False)
    rows = TraceVersion.objects.filter(trace__stimulus__study=study).order_by(
        "trace__stimulus_id", "trace__condition", "number"
    ).select_related("trace__stimulus", "created_by")
    for version, changed in versions.with_changes(rows.iterator(chunk_size=CHUNK_SIZE)):
        texts = version.shown_texts()
        ids = [str(pk) for pk, _, _ in shown_to.get(version.pk, [])]
        trace = version.trace
        yield (
            study.slug, trace.stimulus_id, trace.stimulus.code, trace.condition, version.number,
            iso(version.created_at), version.created_by.get_username() if version.created_by else None,
            ";".join(changed), json.dumps(texts["context_facts"], ensure_ascii=False), texts["question"],
            texts["model_answer"], texts["text"], len(ids), ";".join(ids),
        )


def texts_table(study: Study) -> Table:
    return Table("texts", TEXT_COLUMNS, lambda: text_rows(study))


def codebook(study: Study) -> dict:
    """The study's codebook: its design, conditions, items, participant statuses and every export's
    columns."""
    constructs = dict(Construct.choices)
    kinds = dict(TraceKind.choices)
    no_filter = ParticipantFilter()
    conditions = list(study.conditions.order_by("position", "code"))
    within = study.design == Study.Design.WITHIN
    square = counterbalancing.williams_square(len(conditions)) if within and conditions else []
    return {
        "study": study.slug,
        "title": study.title,
        "design": {
            "code": study.design, "label": study.get_design_display(),
            "target": study.target_per_condition,
            "target_of": "participants in all" if within else "participants per condition",
            "trials_per_participant": study.trials_per_participant,
            "condition_orders": [[conditions[c].code for c in row] for row in square],
        },
        "task": {
            "code": study.trial_task, "label": study.get_trial_task_display(),
            "truth_definition": study.truth_definition,
            "confidence_anchors": [{"value": n, "label": label}
                                   for n, label in enumerate(study.confidence_anchors, start=1)],
            "simulation_feedback": study.simulation_feedback,
        },
        "conditions": [
            {"code": c.code, "label": c.label, "heading": c.trace_heading, "trace_kind": c.trace_kind,
             "trace_kind_label": kinds.get(c.trace_kind, c.trace_kind), "text_source": c.text_source,
             "position": c.position}
            for c in conditions
        ],
        "items": [
            {
                "code": item.code, "construct": item.construct,
                "construct_label": constructs.get(item.construct, item.construct),
                "scope": item.scope, "text": item.text, "scale_points": item.scale_points,
                "reverse_keyed": item.reverse_keyed, "expected_value": item.expected_value,
                "anchors": [{"value": n, "label": label} for n, label in enumerate(item.anchors, start=1)],
                "source": item.source,
            }
            for item in study.items.order_by("scope", "position", "code")
        ],
        "participant_statuses": [{"code": code, "label": label} for code, label in _S.choices],
        "columns": {
            "responses": _describe(LONG_COLUMNS),
            "responses_wide": _describe(wide_layout(study, no_filter).columns),
            "page_times": _describe(PAGE_TIME_COLUMNS),
            "participants": _describe(PARTICIPANT_COLUMNS),
            "stimuli": _describe(STIMULUS_COLUMNS),
            "texts": _describe(TEXT_COLUMNS),
            **({"judgements": _describe(JUDGEMENT_COLUMNS)} if study.judged else {}),
        },
    }


def _describe(columns: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": name, "description": text} for name, text in columns]


def codebook_rows(study: Study) -> Iterator[tuple]:
    """The codebook as one flat table, a row per design, Latin-square row, condition, item, status and
    column; each row's cells in CODEBOOK_COLUMNS order, empty where they do not apply."""
    book = codebook(study)
    names = [name for name, _ in CODEBOOK_COLUMNS]

    def row(**cells: object) -> tuple:
        return tuple(cells.get(name) for name in names)

    design = book["design"]
    yield row(section="design", code=design["code"], label=(
        f"{design['label']}; target {design['target']} {design['target_of']}, "
        f"{design['trials_per_participant']} trials each."
    ))
    task = book["task"]
    anchors = {f"anchor_{a['value']}": a["label"] for a in task["confidence_anchors"]}
    yield row(section="trial_task", code=task["code"], label=(
        f"{task['label']}; ground truth: {task['truth_definition']} grades"
        + ("; simulation feedback shown" if task["simulation_feedback"] else "") + "."
    ), scale_points=len(task["confidence_anchors"]), **anchors)
    for k, order in enumerate(design["condition_orders"]):
        yield row(section="condition_order", code=k, label=";".join(order))
    for c in book["conditions"]:
        yield row(section="condition", code=c["code"], label=c["label"], heading=c["heading"],
                  trace_kind=c["trace_kind"], source=c["text_source"])
    for item in book["items"]:
        anchors = {f"anchor_{a['value']}": a["label"] for a in item["anchors"]}
        yield row(section="item", code=item["code"], label=item["text"], construct=item["construct"],
                  scope=item["scope"], scale_points=item["scale_points"],
                  reverse_keyed=int(item["reverse_keyed"]), expected_value=item["expected_value"],
                  source=item["source"], **anchors)
    for status in book["participant_statuses"]:
        yield row(section="participant_status", code=status["code"], label=status["label"])
    for export, columns in book["columns"].items():
        for column in columns:
            yield row(section=f"{export}_column", code=column["name"], label=column["description"])


def codebook_table(study: Study) -> Table:
    return Table("codebook", CODEBOOK_COLUMNS, lambda: codebook_rows(study))


#: Columns that identify a participant outside this platform, or may (a comment is free text): a dataset
#: deposited openly leaves them out (studyapp.psychds); participant_id, the platform's own, stays.
IDENTIFYING_COLUMNS = ("prolific_pid", "prolific_study_id", "prolific_session_id", "comment")


def without_identifiers(table: Table) -> Table:
    """The table without IDENTIFYING_COLUMNS (itself if it has none)."""
    keep = [n for n, (name, _) in enumerate(table.columns) if name not in IDENTIFYING_COLUMNS]
    if len(keep) == len(table.columns):
        return table
    return Table(table.name, [table.columns[n] for n in keep],
                 lambda: (tuple(row[n] for n in keep) for row in table.rows()))


def data_tables(study: Study, flt: ParticipantFilter) -> list[Table]:
    """Every export of a study, as the ``export_study`` command writes them (the judgements for a
    verification or simulation study)."""
    judgements = [judgements_table(study, flt)] if study.judged else []
    return [
        long_table(study, flt), wide_table(study, flt), page_times_table(study, flt),
        participants_table(study, flt), *judgements, stimuli_table(study), texts_table(study),
        codebook_table(study),
    ]


# --- writing -----------------------------------------------------------------------------------


def _batches(rows: Iterable[tuple], size: int) -> Iterator[list[tuple]]:
    it = iter(rows)
    while batch := list(islice(it, size)):
        yield batch


_FORMULA_STARTS = frozenset("=+-@\t\r")
_first_char = itemgetter(slice(0, 1))


def _inert(value: object) -> object:
    """Text that Excel or LibreOffice would run as a formula, behind a single quote (OWASP's advice)."""
    return "'" + value if isinstance(value, str) and value[:1] in _FORMULA_STARTS else value


def _formula_like(batch: list[tuple]) -> bool:
    """Whether a text cell of the batch starts like a formula. Each distinct value is looked at once,
    in C (rows repeat their participant, item and page time): a tenth of the cost of writing them."""
    distinct = set(chain.from_iterable(batch))
    return not _FORMULA_STARTS.isdisjoint(map(_first_char, filter(str.__instancecheck__, distinct)))


def csv_chunks(header: list[str], rows: Iterable[tuple], batch_rows: int = BATCH_ROWS) -> Iterator[bytes]:
    """UTF-8 CSV (RFC 4180: quoted where needed, CRLF line ends), header first, a batch of rows a chunk.

    Text cells starting with = + - @ tab or CR (a participant's comment, say) get a leading ' so that
    a spreadsheet shows them instead of evaluating them; numbers are left alone. Only a batch that
    holds such a cell is rewritten cell by cell.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for batch in _batches(rows, batch_rows):
        writer.writerows([tuple(map(_inert, row)) for row in batch] if _formula_like(batch) else batch)
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():  # header only: no rows
        yield buffer.getvalue().encode()


def json_chunks(header: list[str], rows: Iterable[tuple], batch_rows: int = BATCH_ROWS) -> Iterator[bytes]:
    """One JSON array of objects (column → value), written a batch of rows at a time."""
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    yield b"["
    separator = ""
    for batch in _batches(rows, batch_rows):
        yield (separator + ",".join(encode(dict(zip(header, row, strict=True))) for row in batch)).encode()
        separator = ","
    yield b"]"


def write_table(table: Table, out: io.BufferedIOBase, fmt: str) -> None:
    for chunk in table.chunks(fmt):
        out.write(chunk)


def streaming_response(table: Table, study: Study, fmt: str) -> StreamingHttpResponse:
    """The table as a streamed download: CSV (``fmt="csv"``) or a JSON array (``fmt="json"``)."""
    content_type = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
    response = StreamingHttpResponse(table.chunks(fmt), content_type=content_type)
    if fmt == "csv":
        response["Content-Disposition"] = f'attachment; filename="{table.filename(study, "csv")}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Accel-Buffering"] = "no"  # let a proxy (nginx) pass chunks on as they come
    return response
