"""Pilot bots: simulated participants walked through a study before it goes live, as oTree's bots are.

Each bot is a preview participant (it counts toward nothing: not the places, the exports by default,
the monitor's counts or the analysis) started through the study's preview link with a staff account.
It then behaves as a browser would: it reads each page's form, fills it (consent yes; every rating at
random or with a fixed value; attention checks passed or failed as asked), sends it with the page's
CSRF token and its own cookies, and follows the redirects. Requests go through the whole Django stack
(middleware, CSRF, the participant-binding cookie, templates) with Django's test client, in-process.
Anything a participant would have been stopped by is reported with the page it happened on.
"""

import random
from dataclasses import dataclass, field
from html.parser import HTMLParser

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from .models import Construct, Item, Response, Study

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


@dataclass
class PilotRun:
    """One bot's walk: the pages it saw, where it ended, and what went wrong."""

    number: int
    condition: str
    pages: list[str] = field(default_factory=list)
    checks_failed: int = 0
    answers_sent: int = 0
    code: str = ""
    problems: list[str] = field(default_factory=list)


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

    def walk(self, run: PilotRun) -> PilotRun:
        """From the preview link to the completion page, one page at a time."""
        response = self.client.get(
            reverse("studyapp:preview", args=[self.study.slug]), {"condition": run.condition}, follow=True
        )
        # consent, instructions, practice, every trial, the questionnaire, and a page of slack
        for _ in range(self.study.trials_per_participant + 6):
            page = _page_name(response)
            run.pages.append(page or f"HTTP {response.status_code}")
            if response.status_code != 200:
                run.problems.append(f"{page or response.wsgi_request.path}: HTTP {response.status_code}"
                                    f"{_error_text(response)}")
                return run
            html = response.content.decode()
            if page == "done":
                self._check_done(run, html, response.resolver_match.kwargs["token"])
                return run
            form, trace = read_page(html)
            if form is None:
                run.problems.append(f"{page}: no form to answer")
                return run
            if (page.startswith("trial-") or page == "practice") and not trace:
                run.problems.append(f"{page}: no trace shown")
            response = self.client.post(form.action or response.wsgi_request.path, self._fill(form, run),
                                        follow=True)
            if response.status_code == 400 or _page_name(response) == page:
                run.problems.append(f"{page}: the filled page was sent back{_error_text(response)}")
                return run
        run.problems.append(f"never reached the completion page (last: {run.pages[-1]})")
        return run

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

    def _check_done(self, run: PilotRun, html: str, token: str) -> None:
        """The completion page must show the code this bot's answers earn, and every answer it sent
        must be stored."""
        limit = self.study.attention_fail_limit
        screened = self.study.attention_checks > 0 and run.checks_failed >= limit
        expected = self.study.failed_attention_code if screened else self.study.completion_code
        run.code = expected if expected and f">{expected}<" in html else ""
        if not run.code:
            run.problems.append(f"done: the completion code {expected!r} is not shown")
        stored = Response.objects.filter(participant__token=token).count()
        if stored != run.answers_sent:
            run.problems.append(f"done: {run.answers_sent} answers sent but {stored} stored")


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
    if answers not in ANSWER_RULES:
        raise ValueError(f"answers must be one of {', '.join(ANSWER_RULES)}, not {answers!r}")
    if attention not in ATTENTION_RULES:
        raise ValueError(f"attention must be one of {', '.join(ATTENTION_RULES)}, not {attention!r}")
    rng = random.Random(seed)
    conditions = list(study.conditions.order_by("pk").values_list("code", flat=True))
    if not conditions:
        return PilotReport(study.slug, [PilotRun(0, "", problems=["the study has no conditions"])])
    runs = []
    for number in range(1, participants + 1):
        client = pilot_client()
        client.force_login(user)
        bot = Bot(study, client, rng, answers, attention)
        runs.append(bot.walk(PilotRun(number, conditions[(number - 1) % len(conditions)])))
    return PilotReport(study.slug, runs)
