"""Pilot bots: simulated participants walked through a study before it goes live, as oTree's bots are.

Each bot is a preview participant (it counts toward nothing in the study: not its places, the exports by
default, the monitor's counts or the analysis) that arrives through the study's preview link with a staff
account, as a bot of its run (``?pilot=<run>``). Among the run's bots, places are taken as participants take
them in the study: each bot gets the least-filled condition (between participants; ties in the study's
order, so the conditions come in turn), the stimulus list and the Latin-square row the run's bots hold
least, and once the bots hold every place (the study's targets) the next one finds the study full and the
run ends there. A bot asked to leave (attrition, ``leave``) stops at a random trial and is marked returned,
as a participant who returns the study on Prolific is: its place and list re-open for the next bot. So a
run walks every list and row, and its completed bots are balanced as the study's participants will be.

A bot behaves as a browser would: it reads each page's form, fills it (consent yes; every rating at random
on that item's scale or with a fixed value; attention checks passed or failed as asked; a verification or
simulation judgement right with its condition's set probability, ``accuracy``, knowing the ground truth
from the stimulus, or at random; its confidence at random), sends it with
the page's CSRF token and its own cookies, and follows the redirects. Requests go through the whole Django
stack (middleware, CSRF, the participant-binding cookie, templates) with Django's test client, in-process.
Anything a participant would have been stopped by is reported with the page it happened on and, on a
problem's page, the problem behind it: the stimulus, that trial's condition and the trace its
participants read.

Every run is recorded (``models.Pilot``) for the monitor: ``manage.py pilot`` runs the bots at once;
the admin's action stores the run and sends it to a worker on the default queue (``request_pilot``),
since a web request must not walk bots for as long as a study takes.
"""

import logging
import random
from dataclasses import asdict, dataclass, field, fields
from html.parser import HTMLParser

from celery import current_app
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from traces import lifecycle

from . import pages, services
from .forms import STEP_FIELD
from .models import (
    LIKERT_MAX,
    LIKERT_MIN,
    Construct,
    Item,
    Participant,
    Pilot,
    Response,
    Stimulus,
    Study,
    TraceKind,
    TrialJudgement,
    TrialTask,
)

logger = logging.getLogger(__name__)

PILOT_TASK = "studyapp.run_pilot"  # on the default queue (CELERY_TASK_ROUTES)
MAX_BOTS = 200

ANSWER_RULES = ("random", *(str(point) for point in range(LIKERT_MIN, LIKERT_MAX + 1)))
ATTENTION_RULES = ("pass", "fail", "random")


@dataclass
class FormOnPage:
    """The first form of a page as a browser sees it: where it goes and what it would send."""

    action: str = ""
    hidden: dict[str, str] = field(default_factory=dict)
    radios: dict[str, list[str]] = field(default_factory=dict)  # name → values offered, in order
    textareas: list[str] = field(default_factory=list)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.form: FormOnPage | None = None
        self._inside = False
        self.trace_text: list[str] = []
        self._in_trace = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "div" and "trace" in a.get("class", "").split():
            self._in_trace = 1
        elif self._in_trace and tag == "div":
            self._in_trace += 1
        if tag == "form" and self.form is None:
            self.form, self._inside = FormOnPage(action=a.get("action", "")), True
        if not self._inside or self.form is None:
            return
        if tag == "input" and a.get("type") == "hidden":
            self.form.hidden[a.get("name", "")] = a.get("value", "")
        elif tag == "input" and a.get("type") == "radio":
            self.form.radios.setdefault(a.get("name", ""), []).append(a.get("value", ""))
        elif tag == "textarea":
            self.form.textareas.append(a.get("name", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._inside = False
        if tag == "div" and self._in_trace:
            self._in_trace -= 1

    def handle_data(self, data: str) -> None:
        if self._in_trace:
            self.trace_text.append(data)


def read_page(html: str) -> tuple[FormOnPage | None, str]:
    """The page's first form and the text of its trace ("" where it shows none)."""
    parser = _FormParser()
    parser.feed(html)
    return parser.form, "".join(parser.trace_text).strip()


@dataclass(frozen=True)
class Failure:
    """What went wrong for a bot and where: the page (its key, or the path of another page) and, on a
    problem's page, the problem behind it: the stimulus, the condition, and the trace shown there
    (its id and where it came from), so that the researcher knows what to correct."""

    where: str
    what: str
    stimulus: str = ""
    condition: str = ""
    trace_id: int | None = None
    trace_source: str = ""

    def __str__(self) -> str:
        behind = ""
        if self.stimulus:
            trace = (f"{self.condition} trace #{self.trace_id}" if self.trace_id is not None
                     else f"no {self.condition} trace")
            source = f" from {self.trace_source}" if self.trace_source else ""
            behind = f" (stimulus {self.stimulus}, {trace}{source})"
        return f"{self.where}{behind}: {self.what}" if self.where else self.what


@dataclass
class PilotRun:
    """One bot's walk: where it arrived (its condition, "within" within participants; its stimulus list and
    Latin-square row), the pages it saw, where it ended, and what went wrong. ``leave_at``: the trial page
    it was asked to stop at ("" to walk to the end)."""

    number: int
    leave_at: str = ""
    condition: str = ""
    stimulus_list: int | None = None
    order_row: int | None = None
    pages: list[str] = field(default_factory=list)
    checks_failed: int = 0
    answers_sent: int = 0
    judgements_sent: int = 0
    code: str = ""
    left: bool = False  # stopped at leave_at and was marked returned
    arrived: bool = True  # False: the preview link took no bot (the study full, or an error)
    full: bool = False  # the run's bots held every place when it arrived
    problems: list[Failure] = field(default_factory=list)

    @property
    def reached_done(self) -> bool:
        """Whether the bot got to the completion page (whatever it found there)."""
        return bool(self.pages) and self.pages[-1] == pages.DONE and not self.left

    @property
    def where(self) -> str:
        """Where it arrived, for the report: the condition, and the list (and row) it held."""
        cell = "" if self.stimulus_list is None else f" list {self.stimulus_list}"
        row = "" if self.order_row is None else f" row {self.order_row}"
        return f"{self.condition}{cell}{row}"


@dataclass
class PilotReport:
    study: str
    runs: list[PilotRun]
    full_after: int | None = None  # the study was full after this many bots; the others did not arrive

    @property
    def failed(self) -> list[PilotRun]:
        return [run for run in self.runs if run.problems]

    @property
    def walked(self) -> list[PilotRun]:
        """The bots that took a place."""
        return [run for run in self.runs if run.arrived]


class Bot:
    """One simulated participant. `answers` is "random" (a point of each item's own scale) or a fixed value
    "1".."7"; `attention` is "pass", "fail" or "random" (each check passed or failed at random)."""

    def __init__(
        self, pilot: Pilot, client: Client, rng: random.Random, expected: dict[str, int]
    ) -> None:
        self.pilot = pilot
        self.study = pilot.study
        self.client = client
        self.rng = rng
        self.answers = pilot.answers
        self.attention = pilot.attention
        self.expected = expected  # attention checks: field name → the instructed answer
        self.token = ""  # the bot's participant, once a participant page names it

    def walk(self, run: PilotRun) -> PilotRun:
        """From the preview link to the completion page (or to the trial it leaves at), one page at a time."""
        response = self.client.get(
            reverse("studyapp:preview", args=[self.study.slug]), {"pilot": self.pilot.pk}, follow=True
        )
        if not _page_name(response):
            return self._not_taken(run, response)
        # consent, instructions, practice, every trial (with its prediction page), the questionnaire, and a
        # page of slack
        for _ in range(2 * self.study.trials_per_participant + 7):
            page = _page_name(response)
            if page and not self.token:
                self._arrived(run, str(response.resolver_match.kwargs["token"]))
            run.pages.append(page or f"HTTP {response.status_code}")
            if response.status_code != 200:
                run.problems.append(self._failure(
                    page or response.wsgi_request.path, f"HTTP {response.status_code}{_error_text(response)}"
                ))
                return run
            html = response.content.decode()
            if page == pages.DONE:
                self._check_done(run, html)
                return run
            form, trace = read_page(html)
            if form is None:
                run.problems.append(self._failure(page, "no form to answer"))
                return run
            if pages.is_problem_page(page) and not trace and not self._answer_only(page):
                run.problems.append(self._failure(page, "no trace shown"))
            if page == run.leave_at:
                self._leave(run, page)
                return run
            filled = self._fill(form, run, page)
            response = self.client.post(form.action or response.wsgi_request.path, filled, follow=True)
            if response.status_code == 400 or _page_name(response) == page:
                sent_back = f"the filled page was sent back{_error_text(response)}"
                run.problems.append(self._failure(page, sent_back))
                return run
        run.problems.append(self._failure(run.pages[-1], "never reached the completion page"))
        return run

    def _not_taken(self, run: PilotRun, response: HttpResponse) -> PilotRun:
        """The preview link showed no participant page: the study full for this run (the page a participant
        finds then), or an error, which every later bot would meet too."""
        run.arrived = False
        if response.status_code == 200 and _url_name(response) == "preview":
            run.full = True
        else:
            where = response.wsgi_request.path
            run.pages.append(f"HTTP {response.status_code}")
            run.problems.append(Failure(where, f"HTTP {response.status_code}{_error_text(response)}"))
        return run

    def _arrived(self, run: PilotRun, token: str) -> None:
        """Note the bot's participant, and where it was assigned."""
        self.token = token
        condition, run.stimulus_list, run.order_row = Participant.objects.filter(token=token).values_list(
            "condition__code", "stimulus_list", "condition_order"
        ).get()
        run.condition = condition or Study.Design.WITHIN

    def _leave(self, run: PilotRun, page: str) -> None:
        """Stop on this page, unanswered, and be marked returned, as Prolific's sync marks a participant who
        returns the study: the place and the list re-open. What it answered before must all be kept, and
        the page must now say that the study has ended for it."""
        Participant.objects.filter(token=self.token, status=Participant.Status.ACTIVE).update(
            status=Participant.Status.RETURNED, ended_at=timezone.now()
        )
        run.left = True
        after = self.client.get(_page_path(self.study, self.token, page), follow=True)
        with translation.override(self.study.own_language):  # the language a bot reads (a preview's)
            ended = f">{translation.gettext('This study has ended for you')}<" in after.content.decode()
        if _page_name(after) != pages.DONE or not ended:
            said = "after it was marked returned, its page did not say that the study has ended for it"
            run.problems.append(self._failure(page, said))
        self._check_kept(run)

    def _answer_only(self, page: str) -> bool:
        """Whether the page's trial is in a condition that shows the model's answer with no text."""
        participant = Participant.objects.get(token=self.token)
        code = services.trial_condition(participant, page)
        return self.study.conditions.filter(code=code, trace_kind=TraceKind.ANSWER_ONLY).exists()

    def _failure(self, where: str, what: str) -> Failure:
        """A failure on a page, naming the problem behind it when the page shows one to this bot: the
        stimulus, the condition of that trial, and its trace."""
        participant = Participant.objects.filter(token=self.token).first() if self.token else None
        stimulus_id = services.stimulus_id_for(participant, where) if participant else None
        stimulus = Stimulus.objects.filter(pk=stimulus_id).first() if stimulus_id else None
        if stimulus is None:
            return Failure(where, what)
        condition = services.trial_condition(participant, where)
        trace = stimulus.traces.filter(condition=condition).first()
        if trace is None:
            return Failure(where, what, stimulus.code, condition)
        source = str(trace.provenance.get("source", ""))
        return Failure(where, what, stimulus.code, condition, trace.pk, source)

    def _fill(self, form: FormOnPage, run: PilotRun, page: str) -> dict[str, str]:
        data = dict(form.hidden)
        for name, values in form.radios.items():
            if name == "consent":
                data[name] = "yes"
            elif name in JUDGEMENT_FIELDS:
                data[name] = self._judge(page, values)
                run.judgements_sent += 1
            elif name in ("confidence", STEP_FIELD):  # a step mark: any step shown, or none
                data[name] = self.rng.choice(values)
            elif name in self.expected:
                data[name] = self._attention_answer(name, values, run)
            else:
                data[name] = self.rng.choice(values) if self.answers == "random" else self.answers
            run.answers_sent += name.startswith("item-")
        for name in form.textareas:
            data[name] = "Pilot run."
        return data

    def _judge(self, page: str, values: list[str]) -> str:
        """The judgement: right with the probability set for the trial's condition (the bot knows the
        ground truth from the stimulus), else one of the wrong answers; at random where none is set."""
        participant = Participant.objects.select_related("study").get(token=self.token)
        accuracy = self.pilot.accuracy.get(services.trial_condition(participant, page))
        if accuracy is None:
            return self.rng.choice(values)
        right = right_answer(participant, page)
        if self.rng.random() < accuracy:
            return right
        return self.rng.choice([v for v in values if v != right])

    def _attention_answer(self, name: str, values: list[str], run: PilotRun) -> str:
        right = str(self.expected[name])
        fail = self.attention == "fail" or (self.attention == "random" and self.rng.random() < 0.5)
        if not fail:
            return right
        run.checks_failed += 1
        return self.rng.choice([v for v in values if v != right])

    def _check_done(self, run: PilotRun, html: str) -> None:
        """The completion page must show the code this bot's answers earn, and every answer it sent
        must be stored."""
        limit = self.study.attention_fail_limit
        screened = self.study.attention_checks > 0 and run.checks_failed >= limit
        expected = self.study.failed_attention_code if screened else self.study.completion_code
        run.code = expected if expected and f">{expected}<" in html else ""
        if not run.code:
            run.problems.append(Failure(pages.DONE, f"the completion code {expected!r} is not shown"))
        self._check_kept(run)

    def _check_kept(self, run: PilotRun) -> None:
        """Every answer and judgement the bot sent is stored."""
        stored = Response.objects.filter(participant__token=self.token).count()
        if stored != run.answers_sent:
            lost = f"{run.answers_sent} answers sent but {stored} stored"
            run.problems.append(Failure(run.pages[-1], lost))
        judged = TrialJudgement.objects.filter(participant__token=self.token).count()
        if judged != run.judgements_sent:
            lost = f"{run.judgements_sent} judgements sent but {judged} stored"
            run.problems.append(Failure(run.pages[-1], lost))


JUDGEMENT_FIELDS = ("judgement", "prediction")  # forms.JudgementForm's choice fields


def right_answer(participant: Participant, page: str) -> str:
    """The value of the right judgement on a page, as its form sends it: verification "yes"/"no" from the
    stimulus's grade; simulation the position (from 1) of the model's answer among the candidates in the
    order shown, 0 ("none of these") when it is not among them."""
    stimulus = services.judged_stimulus(participant, page)
    if participant.study.trial_task == TrialTask.VERIFICATION:
        return "yes" if stimulus.answer_correct(participant.study.truth_definition) else "no"
    options = services.options_shown(participant, stimulus)
    return next((str(n) for n, option in enumerate(options, start=1) if stimulus.predicts(option)), "0")


def parse_accuracy(text: str) -> dict[str, float]:
    """``steps=0.9,plain=0.6`` -> {"steps": 0.9, "plain": 0.6}; ValueError, in words, otherwise."""
    accuracy: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        code, sep, value = part.partition("=")
        try:
            accuracy[code.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not code.strip():
            raise ValueError(f"accuracy is condition=probability, comma-separated (steps=0.9,plain=0.6), "
                             f"not {part!r}")
    return accuracy


def _page_path(study: Study, token: str, page: str) -> str:
    return reverse("studyapp:page", kwargs={"slug": study.slug, "token": token, "page": page})


def _url_name(response: HttpResponse) -> str:
    match = getattr(response, "resolver_match", None)
    return match.url_name if match else ""


def _page_name(response: HttpResponse) -> str:
    """The participant page a response shows ("" for other pages): the last part of its path."""
    match = getattr(response, "resolver_match", None)
    return match.kwargs.get("page", "") if match and match.url_name == "page" else ""


def _error_text(response: HttpResponse) -> str:
    """What a page said was wrong, shortened to a line."""
    parser = _TextOf("error")
    parser.feed(response.content.decode(errors="replace"))
    text = " ".join(" ".join(parser.text).split())
    return f" ({text[:200]})" if text else ""


class _TextOf(HTMLParser):
    """The text inside elements whose class names contain `word` (error summaries, messages)."""

    def __init__(self, word: str) -> None:
        super().__init__()
        self.word, self.depth, self.text = word, 0, []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.depth:
            self.depth += tag not in ("br", "input", "img", "meta", "link", "hr")
        elif any(k == "class" and v and self.word in v for k, v in attrs):
            self.depth = 1

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.text.append(data)


def pilot_client() -> Client:
    """A browser-like client: a host name the site accepts (ALLOWED_HOSTS), https where the site
    insists on it, and CSRF checked as for any browser (the Origin header a browser sends)."""
    host = next((h.lstrip(".") for h in settings.ALLOWED_HOSTS if h != "*"), "localhost")
    scheme = "https" if settings.SECURE_SSL_REDIRECT else "http"
    environ = {"HTTP_HOST": host, "HTTP_ORIGIN": f"{scheme}://{host}", "wsgi.url_scheme": scheme}
    if scheme == "https":
        environ["SERVER_PORT"] = "443"
    # a server error comes back as the 500 page a participant would see, to be reported
    return Client(enforce_csrf_checks=True, raise_request_exception=False, **environ)


def check_rules(
    study: Study, answers: str, attention: str, leave: float = 0.0, accuracy: dict[str, float] | None = None
) -> None:
    """ValueError, in words, for a rule the bots do not know, a share of leavers that is not one, an accuracy
    for a condition the study does not have, off 0..1, or in a rating study, or a fixed rating that is off
    the scale of some of the study's items (a 6 on a five-point item: the page would refuse it, as it
    should)."""
    if accuracy:
        if not study.judged:
            raise ValueError("accuracy is for verification and simulation studies; this one rates only")
        codes = set(study.conditions.values_list("code", flat=True))
        for code, probability in accuracy.items():
            if code not in codes:
                raise ValueError(f"accuracy names condition {code!r}, which the study does not have "
                                 f"({', '.join(sorted(codes))})")
            if not 0 <= probability <= 1:
                raise ValueError(f"accuracy for {code} is a probability from 0 to 1, not {probability:g}")
    if answers not in ANSWER_RULES:
        raise ValueError(f"answers must be one of {', '.join(ANSWER_RULES)}, not {answers!r}")
    if attention not in ATTENTION_RULES:
        raise ValueError(f"attention must be one of {', '.join(ATTENTION_RULES)}, not {attention!r}")
    if not 0 <= leave <= 1:
        raise ValueError(f"leave is the share of bots that stop part-way, from 0 to 1, not {leave:g}")
    if answers == "random":
        return
    rated = Item.objects.filter(study=study).exclude(construct=Construct.ATTENTION_CHECK)
    too_short = list(rated.filter(scale_points__lt=int(answers)).order_by("position", "code")
                     .values_list("code", "scale_points"))
    if too_short:
        points = min(p for _, p in too_short)
        codes = ", ".join(code for code, _ in too_short[:5]) + (
            f" and {len(too_short) - 5} more" if len(too_short) > 5 else "")
        raise ValueError(f"A fixed rating of {answers} is off the scale of {len(too_short)} of the study's "
                         f"items ({codes}), the shortest of {points} points: choose 1 to {points}, or "
                         "random.")


def run_pilot(pilot: Pilot) -> PilotReport:
    """Walk the run's bots through its study as preview participants of its account (a staff account), one
    after another, until as many as asked for have arrived or the run's bots hold every place. A share
    ``pilot.leave`` of them (drawn at random) stop at a random trial and are marked returned."""
    study = pilot.study
    check_rules(study, pilot.answers, pilot.attention, pilot.leave, pilot.accuracy)
    if not study.conditions.exists():
        return PilotReport(study.slug, [PilotRun(0, problems=[Failure("", "the study has no conditions")])])
    rng = random.Random(pilot.seed)
    checks = Item.objects.filter(study=study, construct=Construct.ATTENTION_CHECK)
    expected = {f"item-{code}": v for code, v in checks.values_list("code", "expected_value")}
    report = PilotReport(study.slug, [])
    for number in range(1, pilot.bots + 1):
        leaves = pilot.leave > 0 and rng.random() < pilot.leave
        leave_at = f"{pages.TRIAL_PREFIX}{rng.randint(1, study.trials_per_participant)}" if leaves else ""
        client = pilot_client()
        client.force_login(pilot.requested_by)
        run = Bot(pilot, client, rng, expected).walk(PilotRun(number, leave_at))
        if run.full:
            report.full_after = number - 1
            break
        report.runs.append(run)
        if not run.arrived:
            break  # the study took no bot: every later one would be refused the same way
    return report


def run_and_record(pilot: Pilot) -> PilotReport:
    """Walk a pilot run's bots now, as its account, and record how they did on it (for the monitor)."""
    Pilot.objects.filter(pk=pilot.pk).update(status=Pilot.Status.RUNNING, started_at=timezone.now())
    pilot.status = Pilot.Status.RUNNING
    report = run_pilot(pilot)
    bots = report.walked
    Pilot.objects.filter(pk=pilot.pk).update(
        status=Pilot.Status.FINISHED, finished_at=timezone.now(), bots_run=len(bots),
        bots_completed=sum(run.reached_done for run in bots), bots_left=sum(run.left for run in bots),
        failures=[{"bot": run.number, "bot_condition": run.condition, **asdict(failure)}
                  for run in report.runs for failure in run.problems],
    )
    return report


def request_pilot(
    study: Study, bots: int, user: AbstractBaseUser, *, answers: str = "random", attention: str = "pass",
    leave: float = 0.0, seed: int | None = None, accuracy: dict[str, float] | None = None,
) -> Pilot:
    """Store a pilot run of `bots` bots and send it to a worker on the default queue once stored
    (``run_requested`` walks them there). ValueError for rules the bots cannot follow on this study (see
    check_rules), and ``traces.lifecycle.QueueUnreachable`` when the broker does not answer: nothing is
    stored then."""
    check_rules(study, answers, attention, leave, accuracy)
    lifecycle.check_queue()
    with transaction.atomic():
        pilot = Pilot.objects.create(study=study, bots=bots, answers=answers, attention=attention,
                                     leave=leave, seed=seed, requested_by=user, accuracy=accuracy or {})
        transaction.on_commit(lambda: _send(pilot))
    return pilot


def _send(pilot: Pilot) -> None:
    """Send a stored pilot run to the default queue; if the broker went away since the check, say so."""
    try:
        current_app.send_task(PILOT_TASK, args=[pilot.pk], retry=False)
    except Exception as error:  # kombu raises OperationalError, redis its own, sockets OSError
        _fail(pilot.pk, f"Could not be queued: the queue ({lifecycle.broker_name()}) cannot be reached: "
                        f"{error}")


def run_requested(pilot_id: int) -> PilotReport | None:
    """The worker's part: walk a queued pilot run's bots and record them. A run already taken (a second
    message) or gone is left alone; a run whose account can no longer preview the study fails, saying
    so; an error inside is recorded on the run, not lost in the worker's log."""
    if not Pilot.objects.filter(pk=pilot_id, status=Pilot.Status.QUEUED).update(status=Pilot.Status.RUNNING):
        return None
    pilot = Pilot.objects.select_related("study", "requested_by").get(pk=pilot_id)
    user = pilot.requested_by
    if user is None or not (user.is_active and user.is_staff):
        _fail(pilot_id, "The account that asked for it can no longer preview the study.")
        return None
    try:
        return run_and_record(pilot)
    except Exception as error:
        logger.exception("Pilot run %s failed", pilot_id)
        _fail(pilot_id, f"{type(error).__name__}: {error}")
        return None


def _fail(pilot_id: int, error: str) -> None:
    Pilot.objects.filter(pk=pilot_id).update(
        status=Pilot.Status.FAILED, finished_at=timezone.now(), error=error
    )


@dataclass(frozen=True)
class PilotSummary:
    """A recorded pilot run as the monitor shows it: the run, and each failure with its bot."""

    pilot: Pilot
    failures: list[tuple[int, str, Failure]]  # (bot number, the bot's condition, what went wrong)


_FAILURE_FIELDS = {f.name for f in fields(Failure)}


def recent_pilots(study: Study, limit: int = 5) -> list[PilotSummary]:
    """The study's latest pilot runs, newest first."""
    return [
        PilotSummary(pilot, [
            (entry.get("bot", 0), entry.get("bot_condition", ""),
             Failure(**{k: v for k, v in entry.items() if k in _FAILURE_FIELDS}))
            for entry in pilot.failures
        ])
        for pilot in study.pilots.select_related("requested_by")[:limit]
    ]
