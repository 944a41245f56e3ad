"""Every admin action and page that changes something asks for the permission it needs: a staff
user who may only view runs none of them."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from analysis.models import AnalysisPlan
from studyapp.models import Participant, Study
from tests.conftest import Walker, make_study
from traces.models import Checkpoint, Job, Problem

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(client, django_user_model):
    """Staff with every view permission and nothing else."""
    user = django_user_model.objects.create_user("viewer", password="pw-viewer-1234", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    client.force_login(user)
    return client


def act(client, model: str, action: str, ids: list[int]):
    return client.post(reverse(f"admin:{model}_changelist"), {"action": action, "_selected_action": ids})


def test_a_viewer_runs_no_action(viewer):
    study = make_study("p")
    Walker(Client(), study).arrive()  # a participant, in a browser of their own
    participant = Participant.objects.get()
    checkpoint = Checkpoint.objects.create(name="c", path="/nowhere")
    problem = Problem.objects.create(
        dataset="d", subset="s", source_id="x", question="q", facts=[], gold_answers=[]
    )
    job = Job.objects.create(kind=Job.Kind.GENERATE, checkpoint=checkpoint, setting="vanilla")
    job.problems.set([problem])
    plan = AnalysisPlan.objects.create(study=study)

    act(viewer, "studyapp_study", "pause_study", [study.pk])
    act(viewer, "studyapp_participant", "mark_returned", [participant.pk])
    act(viewer, "traces_job", "cancel_jobs", [job.pk])
    act(viewer, "analysis_analysisplan", "register_plans", [plan.pk])
    study.refresh_from_db()
    participant.refresh_from_db()
    job.refresh_from_db()
    plan.refresh_from_db()
    assert study.status == Study.Status.LIVE
    assert participant.status == Participant.Status.ACTIVE
    assert job.status == Job.Status.QUEUED and not job.cancel_requested
    assert plan.registered_at is None
    listing = viewer.get(reverse("admin:studyapp_study_changelist")).content.decode()
    assert "pause_study" not in listing


def test_a_viewer_opens_no_import_or_build_page(viewer):
    study = make_study("b", n_stimuli=0)
    pages = [
        reverse("admin:traces_problem_import"), reverse("admin:traces_evaluation_import"),
        reverse("admin:traces_referencetrace_import"),
        reverse("admin:studyapp_study_build_stimuli", args=[study.pk]),
        reverse("admin:studyapp_study_build_from_outputs", args=[study.pk]),
    ]
    for page in pages:
        assert viewer.get(page).status_code == 403, page
    upload = io.BytesIO(b'{"index": 0}\n')
    upload.name = "x.jsonl"
    response = viewer.post(pages[0], {"format": "cotempqa", "subset": "equal", "file": upload})
    assert response.status_code == 403 and not Problem.objects.exists()


def test_the_permission_lets_the_action_run(client, django_user_model):
    user = django_user_model.objects.create_user("editor", password="pw-editor-1234", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_study", "change_study"]))
    client.force_login(user)
    study = make_study("e")
    act(client, "studyapp_study", "pause_study", [study.pk])
    study.refresh_from_db()
    assert study.status == Study.Status.PAUSED
