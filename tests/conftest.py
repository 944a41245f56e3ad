"""Shared fixtures: a live study built the way a researcher builds one, and a participant walker."""

import json
import os
import re
import secrets
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from celery import Celery, current_app
from django.test import Client
from django.urls import reverse

from studyapp.conditions import PAPER_CONDITIONS
from studyapp.models import Item, Participant, Role, Stimulus, StimulusTrace, Study, StudyMember
from studyapp.study_setup import add_defaults

#: The paper's four condition codes, which a new study starts with.
PAPER_CODES = [condition.code for condition in PAPER_CONDITIONS]


def make_study(
    slug: str = "s1",
    *,
    n_stimuli: int = 6,
    target: int = 25,
    trials: int = 3,
    status: str = Study.Status.LIVE,
) -> Study:
    study = Study.objects.create(
        slug=slug, title=f"Study {slug}", target_per_condition=target,
        trials_per_participant=trials, completion_code="C-OK", no_consent_code="C-NOCONSENT",
        failed_attention_code="C-ATTN",
    )
    add_defaults(study)
    for n in range(n_stimuli):
        stimulus = Stimulus.objects.create(
            study=study, code=f"p{n}", context_facts=[f"Fact {n}a.", f"Fact {n}b."],
            question=f"Question {n}?", gold_answers=[f"Gold {n}"], model_answer=f"Answer {n}",
        )
        for code in PAPER_CODES:
            StimulusTrace.objects.create(stimulus=stimulus, condition=code, text=f"{code} trace for {n}")
    # set directly: some tests need a live study that is not ready (as one whose traces were deleted
    # after it went live), which saving refuses
    Study.objects.filter(pk=study.pk).update(status=status)
    study.refresh_from_db()
    return study


def _team_owns_every_study(**users) -> None:
    """The data migration's rule: staff and the researchers group own every study (``users`` narrows it)."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db.models import Q

    team = get_user_model().objects.filter(
        Q(is_staff=True) | Q(groups__name=settings.RESEARCHERS_GROUP), **users).distinct()
    StudyMember.objects.bulk_create(
        [StudyMember(study=study, user=user, role=Role.OWNER) for study in Study.objects.all()
         for user in team],
        ignore_conflicts=True,
    )


@pytest.fixture(autouse=True)
def one_team(request):
    """The tests written before per-study teams run in the site the data migration leaves: one team, in
    which every staff account and member of the researchers group owns every study, whichever of them is
    made first. Tests of teams (marked ``teams``) set every membership themselves."""
    from django.contrib.auth import get_user_model
    from django.db.models.signals import m2m_changed, post_save

    if request.node.get_closest_marker("teams"):
        yield
        return
    User = get_user_model()

    def study_made(sender, instance, created, **kwargs) -> None:
        if created:
            _team_owns_every_study()

    def user_saved(sender, instance, **kwargs) -> None:
        _team_owns_every_study(pk=instance.pk)

    receivers = [(post_save, study_made, Study, "study"), (post_save, user_saved, User, "user"),
                 (m2m_changed, user_saved, User.groups.through, "groups")]
    for signal, receiver, sender, name in receivers:
        signal.connect(receiver, sender=sender, dispatch_uid=f"one_team_{name}")
    yield
    for signal, _, sender, name in receivers:
        signal.disconnect(sender=sender, dispatch_uid=f"one_team_{name}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test in a real browser is a slow one too (make test-fast skips both)."""
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.slow)


def broker_of_worker(url: str, worker: str) -> str:
    """The Redis broker a pytest-xdist worker uses: database n + k for worker gwk, so that no worker's
    Celery workers take another's messages (each has a test database of its own). Other brokers, and a
    run without workers, keep theirs."""
    parts = urlsplit(url)
    if parts.scheme != "redis" or not worker.startswith("gw"):
        return url
    database = int(parts.path.strip("/") or 0) + int(worker.removeprefix("gw"))
    return urlunsplit(parts._replace(path=f"/{database}"))


@pytest.fixture(scope="session", autouse=True)
def broker_of_this_worker():
    """Point the settings, the environment and the Celery app at this worker's own Redis database."""
    from django.conf import settings

    from tracestudy.celery import app

    url = broker_of_worker(settings.CELERY_BROKER_URL, os.environ.get("PYTEST_XDIST_WORKER", ""))
    if url != settings.CELERY_BROKER_URL:
        settings.CELERY_BROKER_URL = app.conf.broker_url = os.environ["CELERY_BROKER_URL"] = url
    yield


@pytest.fixture(autouse=True)
def arrivals_unlimited(settings):
    """Tests arrive many participants from one address; the tests of the limit set their own."""
    from django.core.cache import cache

    settings.ARRIVAL_RATE_LIMIT = "1000000/s"
    cache.clear()
    yield
    cache.clear()


def new_pid() -> str:
    return secrets.token_hex(12)


@pytest.fixture
def study(db) -> Study:
    return make_study()


class Walker:
    """Drives one participant through the study with Django's test client, as a browser would: the
    client keeps the cookie that binds the participant to it. A participant's Prolific SESSION_ID
    follows from their PID, so the same PID arriving again is the same submission."""

    def __init__(self, client: Client, study: Study, pid: str | None = None) -> None:
        self.client = client
        self.study = study
        self.pid = pid or new_pid()
        self.last = None

    def link(self) -> dict[str, str]:
        return {"PROLIFIC_PID": self.pid, "STUDY_ID": self.study.prolific_study_id or "abc",
                "SESSION_ID": f"session-{self.pid}"}

    def arrive(self):
        entry = reverse("studyapp:entry", args=[self.study.slug])
        self.last = self.client.get(entry, self.link(), follow=True)
        return self.last

    @property
    def participant(self) -> Participant:
        return Participant.objects.get(study=self.study, prolific_pid=self.pid)

    def url(self, page: str) -> str:
        p = self.participant
        return reverse("studyapp:page", kwargs={"slug": self.study.slug, "token": p.token, "page": page})

    def get(self, page: str):
        self.last = self.client.get(self.url(page), follow=True)
        return self.last

    def post(self, page: str, data: dict, follow: bool = True):
        self.last = self.client.post(self.url(page), data, follow=follow)
        return self.last

    def answers_for(self, page: str, value: int = 4, attention: str | int = "pass") -> dict:
        """Answer every item on a page (shown to us by GET) with ``value``; attention checks as they
        ask ("pass"), wrongly ("fail"), or with a given value."""
        response = self.client.get(self.url(page))
        names = sorted(set(re.findall(r'name="(item-[\w-]+)"', response.content.decode())))
        data = {n: value for n in names}
        for n in names:
            if n.startswith("item-attention_check"):
                expected = Item.objects.get(study=self.study, code=n.removeprefix("item-")).expected_value
                data[n] = {"pass": expected, "fail": 5 if expected != 5 else 1}.get(attention, attention)
        stimulus = re.search(r'name="stimulus" value="(\d+)"', response.content.decode())
        if stimulus:
            data["stimulus"] = stimulus.group(1)
        return data

    def complete(self, value: int = 4, attention: str | int = "pass", comment: str = "fine"):
        self.arrive()
        self.post("consent", {"consent": "yes"})
        self.post("instructions", {})
        if self.participant.practice_stimulus_id:
            self.post("practice", self.answers_for("practice", value))
        for n in range(1, self.study.trials_per_participant + 1):
            page = f"trial-{n}"
            self.post(page, self.answers_for(page, value, attention))
        data = self.answers_for("questionnaire", value)
        data["comment"] = comment
        return self.post("questionnaire", data)


@pytest.fixture
def walker(client, study) -> Walker:
    return Walker(client, study)


@pytest.fixture
def filesystem_broker(monkeypatch, tmp_path) -> Path:
    """The demo's broker, Celery's filesystem transport (which cannot be inspected), in a folder of the
    test's own, whatever broker the settings name (CI's is Redis): an app of its own, made current."""
    monkeypatch.setenv("CELERY_BROKER_URL", "filesystem://")  # Celery reads it before its settings
    previous = current_app._get_current_object()
    app = Celery("filesystem-broker", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.broker_url = "filesystem://"
    app.conf.broker_transport_options = {
        "data_folder_in": str(tmp_path), "data_folder_out": str(tmp_path),
        "control_folder": str(tmp_path / "control"),
    }
    app.set_current()
    yield tmp_path
    previous.set_current()
    app.close()


def queued_messages(folder: Path, queue: str, task: str, arg: int) -> list[dict]:
    """The headers of the messages for ``task(arg)`` waiting in a filesystem broker's folder."""
    found = []
    for path in folder.glob(f"*.{queue}.msg"):
        headers = json.loads(path.read_text())["headers"]
        if headers["task"] == task and headers["argsrepr"] == f"[{arg}]":
            found.append(headers)
    return found
