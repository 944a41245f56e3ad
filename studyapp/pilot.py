"""Pilot bots: simulated participants walked through a study before it goes live, as oTree's bots are.

Each bot is a preview participant (it counts toward nothing: not the places, the exports by default,
the monitor's counts or the analysis) started through the study's preview link with a staff account.
It then behaves as a browser would: it reads each page's form, fills it (consent yes; every rating at
random or with a fixed value; attention checks passed or failed as asked), sends it with the page's
CSRF token and its own cookies, and follows the redirects. Requests go through the whole Django stack
(middleware, CSRF, the participant-binding cookie, templates) with Django's test client, in-process.
Anything a participant would have been stopped by is reported with the page it happened on and, on a
problem's page, the problem behind it: the stimulus, the condition and the trace its participants read.

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
from django.utils import timezone

from traces import lifecycle

from . import services
from .models import Construct, Item, Participant, Pilot, Response, Stimulus, Study

logger = logging.getLogger(__name__)

PILOT_TASK = "studyapp.run_pilot"  # on the default queue (CELERY_TASK_ROUTES)
MAX_BOTS = 200

ANSWER_RULES = ("random", "1", "2", "3", "4", "5")
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
    """One bot's walk: the pages it saw, where it ended, and what went wrong."""

    number: int
    condition: str
    pages: list[str] = field(default_factory=list)
    checks_failed: int = 0
    answers_sent: int = 0
    code: str = ""
    problems: list[Failure] = field(default_factory=list)

    @property
    def reached_done(self) -> bool:
        """Whether the bot got to the completion page (whatever it found there)."""
        return bool(self.pages) and self.pages[-1] == services.DONE


@dataclass
class PilotReport:
    study: str
    runs: list[PilotRun]

    @property
    def failed(self) -> list[PilotRun]:
        return [run for run in self.runs if run.problems]


class Bot:
    """One simulated participant. `answers` is "random" or a fixed value "1".."5"; `attention` is
    "pass", "fail" or "random" (each check passed or failed at random)."""

    def __init__(
        self, study: Study, client: Client, rng: random.Random, answers: str, attention: str
    ) -> None:
        self.study = study
        self.client = client
        self.rng = rng
        self.answers = answers
        self.attention = attention
        checks = Item.objects.filter(study=study, construct=Construct.ATTENTION_CHECK)
        self.expected = {f"item-{code}": v for code, v in checks.values_list("code", "expected_value")}
        self.token = ""  # the bot's participant, once a participant page names it

    def walk(self, run: PilotRun) -> PilotRun:
        """From the preview link to the completion page, one page at a time."""
        response = self.client.get(
            reverse("studyapp:preview", args=[self.study.slug]), {"condition": run.condition}, follow=True
        )
        # consent, instructions, practice, every trial, the questionnaire, and a page of slack
        for _ in range(self.study.trials_per_participant + 6):
            page = _page_name(response)
            if page:
                self.token = str(response.resolver_match.kwargs["token"])
            run.pages.append(page or f"HTTP {response.status_code}")
            if response.status_code != 200:
                run.problems.append(self._failure(
                    page or response.wsgi_request.path, f"HTTP {response.status_code}{_error_text(response)}"
                ))
                return run
            html = response.content.decode()
            if page == services.DONE:
                self._check_done(run, html)
                return run
            form, trace = read_page(html)
            if form is None:
                run.problems.append(self._failure(page, "no form to answer"))
                return run
            if (page.startswith(services.TRIAL_PREFIX) or page == services.PRACTICE) and not trace:
                run.problems.append(self._failure(page, "no trace shown"))
            response = self.client.post(form.action or response.wsgi_request.path, self._fill(form, run),
                                        follow=True)
            if response.status_code == 400 or _page_name(response) == page:
                sent_back = f"the filled page was sent back{_error_text(response)}"
                run.problems.append(self._failure(page, sent_back))
                return run
        run.problems.append(self._failure(run.pages[-1], "never reached the completion page"))
        return run

    def _failure(self, where: str, what: str) -> Failure:
        """A failure on a page, naming the problem behind it when the page shows one to this bot."""
        bots = Participant.objects.select_related("condition")
        participant = bots.filter(token=self.token).first() if self.token else None
        stimulus_id = services.stimulus_id_for(participant, where) if participant else None
        stimulus = Stimulus.objects.filter(pk=stimulus_id).first() if stimulus_id else None
        if stimulus is None:
            return Failure(where, what)
        condition = participant.condition.code
        trace = stimulus.traces.filter(condition=condition).first()
        if trace is None:
            return Failure(where, what, stimulus.code, condition)
        source = str(trace.provenance.get("source", ""))
        return Failure(where, what, stimulus.code, condition, trace.pk, source)

    def _fill(self, form: FormOnPage, run: PilotRun) -> dict[str, str]:
        data = dict(form.hidden)
        for name, values in form.radios.items():
            if name == "consent":
                data[name] = "yes"
            elif name in self.expected:
                data[name] = self._attention_answer(name, values, run)
            else:
                data[name] = self.rng.choice(values) if self.answers == "random" else self.answers
            run.answers_sent += name.startswith("item-")
        for name in form.textareas:
            data[name] = "Pilot run."
        return data

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
            run.problems.append(Failure(services.DONE, f"the completion code {expected!r} is not shown"))
        stored = Response.objects.filter(participant__token=self.token).count()
        if stored != run.answers_sent:
            lost = f"{run.answers_sent} answers sent but {stored} stored"
            run.problems.append(Failure(services.DONE, lost))


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


def check_rules(answers: str, attention: str) -> None:
    """ValueError, in words, for a rule the bots do not know."""
    if answers not in ANSWER_RULES:
        raise ValueError(f"answers must be one of {', '.join(ANSWER_RULES)}, not {answers!r}")
    if attention not in ATTENTION_RULES:
        raise ValueError(f"attention must be one of {', '.join(ATTENTION_RULES)}, not {attention!r}")


def run_pilot(
    study: Study,
    participants: int,
    user: AbstractBaseUser,
    *,
    answers: str = "random",
    attention: str = "pass",
    seed: int | None = None,
) -> PilotReport:
    """Walk `participants` bots through `study` as preview participants of `user` (a staff account),
    the conditions taken in turn."""
    check_rules(answers, attention)
    rng = random.Random(seed)
    conditions = list(study.conditions.order_by("pk").values_list("code", flat=True))
    if not conditions:
        no_conditions = Failure("", "the study has no conditions")
        return PilotReport(study.slug, [PilotRun(0, "", problems=[no_conditions])])
    runs = []
    for number in range(1, participants + 1):
        client = pilot_client()
        client.force_login(user)
        bot = Bot(study, client, rng, answers, attention)
        runs.append(bot.walk(PilotRun(number, conditions[(number - 1) % len(conditions)])))
    return PilotReport(study.slug, runs)


def run_and_record(pilot: Pilot) -> PilotReport:
    """Walk a pilot run's bots now, as its account, and record how they did on it (for the monitor)."""
    Pilot.objects.filter(pk=pilot.pk).update(status=Pilot.Status.RUNNING, started_at=timezone.now())
    report = run_pilot(pilot.study, pilot.bots, pilot.requested_by, answers=pilot.answers,
                       attention=pilot.attention, seed=pilot.seed)
    bots = [run for run in report.runs if run.number]
    Pilot.objects.filter(pk=pilot.pk).update(
        status=Pilot.Status.FINISHED, finished_at=timezone.now(), bots_run=len(bots),
        bots_completed=sum(run.reached_done for run in bots),
        failures=[{"bot": run.number, "bot_condition": run.condition, **asdict(failure)}
                  for run in report.runs for failure in run.problems],
    )
    return report


def request_pilot(
    study: Study, bots: int, user: AbstractBaseUser, *, answers: str = "random", attention: str = "pass",
    seed: int | None = None,
) -> Pilot:
    """Store a pilot run of `bots` bots and send it to a worker on the default queue once stored
    (``run_requested`` walks them there). ValueError for a rule the bots do not know, and
    ``traces.lifecycle.QueueUnreachable`` when the broker does not answer: nothing is stored then."""
    check_rules(answers, attention)
    lifecycle.check_queue()
    with transaction.atomic():
        pilot = Pilot.objects.create(study=study, bots=bots, answers=answers, attention=attention, seed=seed,
                                     requested_by=user)
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
