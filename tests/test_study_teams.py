"""Each study its own team: every admin page of studies and their records, every API endpoint, each export
and the report, tried by an owner, an editor, an analyst and a viewer of one study, by an account of
another team, and by a superuser. Each role gets exactly what its row allows in its study (403 where it may
see the study but not this), and every other study is a 404. Then the scoped API tokens, the audit trail,
and the data migration that keeps a single team's site as it was."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from analysis.models import AnalysisPlan
from studyapp import tokens
from studyapp.models import AuditEntry, Participant, Role, Study, StudyMember, StudyToken
from tests.conftest import Walker, make_study
from tests.studyapp.test_admin import study_form

pytestmark = [pytest.mark.django_db, pytest.mark.teams]

ROLES = ["owner", "editor", "analyst", "viewer"]
OK, DENIED, HIDDEN = 200, 403, 404


class Team:
    """Two live studies with a participant who completed each: ``mine`` has a member of each role,
    ``theirs`` belongs to another team (``outsider`` owns it). Every account is staff with every model
    permission of the studies' apps, as a researchers' group would give: only the roles differ."""

    def __init__(self, django_user_model) -> None:
        self.mine, self.theirs = make_study("mine"), make_study("theirs")
        for study in (self.mine, self.theirs):
            Walker(Client(), study).complete()
            AnalysisPlan.objects.create(study=study)
        permissions = Permission.objects.filter(content_type__app_label__in=["studyapp", "analysis"])
        self.users = {}
        for name in [*ROLES, "outsider"]:
            user = django_user_model.objects.create_user(name, password=f"pw-{name}-12345", is_staff=True)
            user.user_permissions.set(permissions)
            self.users[name] = user
        for role in ROLES:
            StudyMember.objects.create(study=self.mine, user=self.users[role], role=role)
        StudyMember.objects.create(study=self.theirs, user=self.users["outsider"], role=Role.OWNER)
        root = django_user_model.objects.create_superuser("root", "r@example.org", "pw-root")
        self.users["superuser"] = root

    def client(self, name: str) -> Client:
        client = Client()
        client.force_login(self.users[name])
        return client


@pytest.fixture
def team(django_user_model) -> Team:
    return Team(django_user_model)


def study_pages(study: Study) -> dict[str, str]:
    """Every page that names one study: admin pages of it and of its records, monitor, preview, report,
    analysis plan, power planner, and every API endpoint of it."""
    stimulus, participant = study.stimuli.first(), Participant.objects.get(study=study)
    response = participant.responses.first()
    visit, plan = participant.visits.first(), study.analysis_plans.get()
    admin = {
        "study change": reverse("admin:studyapp_study_change", args=[study.pk]),
        "study history": reverse("admin:studyapp_study_history", args=[study.pk]),
        "build stimuli": reverse("admin:studyapp_study_build_stimuli", args=[study.pk]),
        "build from outputs": reverse("admin:studyapp_study_build_from_outputs", args=[study.pk]),
        "study file": reverse("admin:studyapp_study_download_file", args=[study.pk]),
        "stimulus change": reverse("admin:studyapp_stimulus_change", args=[stimulus.pk]),
        "item change": reverse("admin:studyapp_item_change", args=[study.items.first().pk]),
        "participant change": reverse("admin:studyapp_participant_change", args=[participant.pk]),
        "response change": reverse("admin:studyapp_response_change", args=[response.pk]),
        "page visit change": reverse("admin:studyapp_pagevisit_change", args=[visit.pk]),
        "plan change": reverse("admin:analysis_analysisplan_change", args=[plan.pk]),
    }
    pages = {
        "monitor": reverse("studyapp:monitor", args=[study.slug]),
        "preview": reverse("studyapp:preview", args=[study.slug]),
        "report": reverse("analysis:report", args=[study.slug]),
        "report json": reverse("analysis:report", args=[study.slug]) + "?format=json",
        "plan document": reverse("analysis:plan-document", args=[study.slug]),
        "power planner": reverse("analysis:power-planner", args=[study.slug]),
    }
    api = {f"api {name}": reverse(f"api:{name}", args=[study.slug]) for name in [
        "study-detail", "participants", "responses", "responses-wide", "page-times", "judgements", "stimuli",
        "texts", "codebook", "spec", "psych-ds",
    ]}
    return {**admin, **pages, **api}


DATA = {"participant change", "response change", "page visit change", "report", "report json",
        "api participants", "api responses", "api responses-wide", "api page-times", "api judgements",
        "api stimuli", "api texts", "api psych-ds"}
DESIGN_READ = {"stimulus change", "item change", "plan change", "study file", "plan document",
               "power planner", "api codebook", "api spec"}
EVERY_ROLE = {"study change", "study history", "monitor", "preview", "api study-detail"}
DESIGN = {"build stimuli", "build from outputs"}

#: role -> the pages it opens in its study; the others are 403, or 404 where the record itself is hidden
#: (an admin record of a kind the role does not see at all, whose existence the list does not show either)
ALLOWED = {
    "owner": DATA | DESIGN_READ | EVERY_ROLE | DESIGN,
    "editor": DESIGN_READ | EVERY_ROLE,  # the study is live: design is the owners' now
    "analyst": DATA | DESIGN_READ | EVERY_ROLE,
    "viewer": EVERY_ROLE,
}
HIDDEN_RECORDS = {"stimulus change", "item change", "participant change", "response change",
                  "page visit change", "plan change"}


@pytest.mark.parametrize("role", ROLES)
def test_each_role_opens_exactly_its_row_in_its_study_and_nothing_of_another(team, role):
    client = team.client(role)
    for name, url in study_pages(team.mine).items():
        expected = OK if name in ALLOWED[role] else HIDDEN if name in HIDDEN_RECORDS else DENIED
        assert client.get(url).status_code == expected, (role, name)
    for name, url in study_pages(team.theirs).items():
        assert client.get(url).status_code == HIDDEN, (role, name)


def test_a_superuser_opens_every_page_of_every_study_and_an_outsider_only_theirs(team):
    for study in (team.mine, team.theirs):
        for name, url in study_pages(study).items():
            assert team.client("superuser").get(url).status_code == OK, name
    outsider = team.client("outsider")
    for name, url in study_pages(team.mine).items():
        assert outsider.get(url).status_code == HIDDEN, name
    for name, url in study_pages(team.theirs).items():
        assert outsider.get(url).status_code == OK, name


LISTS = {  # admin changelist -> the roles that open it (others: 403, as they see no such record anywhere)
    "studyapp_study": ROLES, "studyapp_stimulus": ["owner", "editor", "analyst"],
    "studyapp_item": ["owner", "editor", "analyst"], "analysis_analysisplan": ["owner", "editor", "analyst"],
    "studyapp_participant": ["owner", "analyst"], "studyapp_response": ["owner", "analyst"],
    "studyapp_pagevisit": ["owner", "analyst"], "studyapp_trialjudgement": ["owner", "analyst"],
    "studyapp_prolificaction": ["owner", "analyst"], "studyapp_auditentry": ["owner"],
    "studyapp_studytoken": ["owner"],
}


@pytest.mark.parametrize("role", ROLES)
def test_the_admin_lists_show_only_the_roles_study(team, role):
    client = team.client(role)
    their_pid = Participant.objects.get(study=team.theirs).prolific_pid
    my_pid = Participant.objects.get(study=team.mine).prolific_pid
    for model, roles in LISTS.items():
        response = client.get(reverse(f"admin:{model}_changelist"))
        assert response.status_code == (OK if role in roles else DENIED), (role, model)
        page = response.content.decode()
        assert "theirs" not in page and their_pid not in page, (role, model)  # nor in the list's filters
        if model == "studyapp_participant" and role in roles:
            assert my_pid in page
    index = client.get(reverse("admin:index")).content.decode()
    assert ("Participants" in index) == (role in LISTS["studyapp_participant"])


@pytest.mark.parametrize("role", ROLES)
def test_the_api_lists_only_the_roles_studies(team, role):
    studies = team.client(role).get(reverse("api:study-list")).json()
    assert [s["slug"] for s in studies] == ["mine"]


def act(client: Client, model: str, action: str, ids: list[int]):
    return client.post(reverse(f"admin:{model}_changelist"), {"action": action, "_selected_action": ids})


@pytest.mark.parametrize("role", ROLES)
def test_only_an_owner_runs_the_studys_operations_and_nobody_anothers(team, role):
    client = team.client(role)
    participant = Participant.objects.get(study=team.mine)
    act(client, "studyapp_study", "pause_study", [team.mine.pk, team.theirs.pk])
    act(client, "studyapp_participant", "count_again", [participant.pk])
    assert Study.objects.get(slug="theirs").status == Study.Status.LIVE
    paused = Study.objects.get(slug="mine").status == Study.Status.PAUSED
    assert paused == (role == "owner")
    listing = client.get(reverse("admin:studyapp_study_changelist")).content.decode()
    assert ("pause_study" in listing) == (role == "owner")


def test_an_editor_designs_a_draft_but_not_a_live_study(team):
    editor = team.client("editor")
    draft = make_study("draft", status=Study.Status.DRAFT)
    StudyMember.objects.create(study=draft, user=team.users["editor"], role=Role.EDITOR)
    url = reverse("admin:studyapp_study_change", args=[draft.pk])
    assert editor.get(reverse("admin:studyapp_study_build_stimuli", args=[draft.pk])).status_code == OK
    saved = editor.post(url, study_form(draft, title="Renamed by the editor"))
    assert saved.status_code == 302 and Study.objects.get(slug="draft").title == "Renamed by the editor"
    live = reverse("admin:studyapp_study_change", args=[team.mine.pk])
    assert editor.post(live, study_form(team.mine, title="Not allowed")).status_code == DENIED
    assert Study.objects.get(slug="mine").title == "Study mine"
    # going live is the owners': the editor's form has no status to set; nor does an editor delete it
    assert 'name="status"' not in editor.get(url).content.decode()
    assert editor.get(reverse("admin:studyapp_study_delete", args=[draft.pk])).status_code == DENIED


@pytest.mark.parametrize("role", ["owner", "editor", "analyst"])
def test_who_read_a_text_is_shown_only_to_those_who_read_the_data(team, role):
    participant = Participant.objects.get(study=team.mine)
    read = participant.visits.exclude(stimulus=None).first().stimulus
    page = team.client(role).get(reverse("admin:studyapp_stimulus_change", args=[read.pk])).content.decode()
    assert (participant.prolific_pid in page) == (role != "editor")


def test_whoever_creates_a_study_owns_it(team):
    client = team.client("viewer")
    response = client.post(reverse("admin:studyapp_study_add"), {
        **study_form(team.mine), "slug": "new-one", "title": "New", "status": "draft",
        "members-TOTAL_FORMS": 0, "members-INITIAL_FORMS": 0, "conditions-TOTAL_FORMS": 0,
        "conditions-INITIAL_FORMS": 0,
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    study = Study.objects.get(slug="new-one")
    assert StudyMember.objects.get(study=study).user == team.users["viewer"]
    assert StudyMember.objects.get(study=study).role == Role.OWNER


def test_the_pilot_command_refuses_an_account_whose_role_does_not_allow_it(team):
    with pytest.raises(Exception, match="may not run pilot bots"):
        call_command("pilot", "mine", "--participants", "1", "--user", "analyst", stdout=io.StringIO())
    with pytest.raises(Exception, match="may not run pilot bots"):
        call_command("pilot", "theirs", "--participants", "1", "--user", "owner", stdout=io.StringIO())


# --- scoped API tokens --------------------------------------------------------------------------------------


def make_token(team: Team, account: str, role: str, studies: list[Study], **times) -> str:
    key, prefix, key_hash = tokens.new_key()
    token = StudyToken.objects.create(
        name="script", user=team.users[account], role=role, prefix=prefix, key_hash=key_hash,
        expires_at=times.get("expires_at", timezone.now() + timedelta(days=1)),
    )
    token.studies.set(studies)
    return key


def with_key(key: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {key}")


def test_an_owner_makes_a_token_in_the_admin_that_is_shown_once_and_stored_as_a_hash(team):
    owner = team.client("owner")
    expires = timezone.now() + timedelta(days=30)
    response = owner.post(reverse("admin:studyapp_studytoken_add"), {
        "name": "nightly export", "studies": [team.mine.pk], "role": "analyst",
        "expires_at_0": expires.strftime("%Y-%m-%d"), "expires_at_1": "12:00:00",
    }, follow=True)
    page = response.content.decode()
    key = page.split("<code>")[1].split("</code>")[0]
    assert key.startswith(tokens.KEY_PREFIX)
    token = StudyToken.objects.get()
    assert token.key_hash == tokens.hash_key(key) and key not in str(StudyToken.objects.values().get())
    assert with_key(key).get(reverse("api:participants", args=["mine"])).status_code == OK
    assert key not in owner.get(reverse("admin:studyapp_studytoken_change", args=[token.pk])).content.decode()
    # an owner offers only the studies they own
    form = owner.get(reverse("admin:studyapp_studytoken_add")).content.decode()
    assert "mine" in form and "theirs" not in form
    assert team.client("analyst").get(reverse("admin:studyapp_studytoken_add")).status_code == DENIED


def test_a_token_reaches_only_its_studies_with_its_role_until_it_expires_or_is_revoked(team):
    participants = reverse("api:participants", args=["mine"])
    analyst_key = make_token(team, "owner", "analyst", [team.mine])
    assert with_key(analyst_key).get(participants).status_code == OK
    model_table = reverse("api:model-table") + "?dataset=cotempqa"
    assert with_key(analyst_key).get(model_table).status_code != DENIED  # 404: no evaluations here
    # a study out of its scope, even one its account owns, does not exist for it
    StudyMember.objects.create(study=team.theirs, user=team.users["owner"], role=Role.OWNER)
    assert team.client("owner").get(reverse("api:participants", args=["theirs"])).status_code == OK
    assert with_key(analyst_key).get(reverse("api:participants", args=["theirs"])).status_code == HIDDEN
    assert [s["slug"] for s in with_key(analyst_key).get(reverse("api:study-list")).json()] == ["mine"]
    # a lower role: the study, but not its data, nor the model side
    viewer_key = make_token(team, "owner", "viewer", [team.mine])
    assert with_key(viewer_key).get(reverse("api:study-detail", args=["mine"])).status_code == OK
    assert with_key(viewer_key).get(participants).status_code == DENIED
    assert with_key(viewer_key).get(model_table).status_code == DENIED
    # never more than its account: an owner's token made by a viewer reads no data
    assert with_key(make_token(team, "viewer", "owner", [team.mine])).get(participants).status_code == DENIED
    # nor after its account leaves the study
    StudyMember.objects.filter(user=team.users["owner"], study=team.mine).delete()
    assert with_key(analyst_key).get(participants).status_code == HIDDEN
    # expired, revoked, or made up: not authenticated
    past = timezone.now() - timedelta(seconds=1)
    expired = make_token(team, "analyst", "analyst", [team.mine], expires_at=past)
    assert with_key(expired).get(participants).status_code == 401
    key = make_token(team, "analyst", "analyst", [team.mine])
    assert with_key(key).get(participants).status_code == OK
    StudyMember.objects.create(study=team.mine, user=team.users["owner"], role=Role.OWNER)
    act(team.client("owner"), "studyapp_studytoken", "revoke_tokens",
        [StudyToken.objects.get(key_hash=tokens.hash_key(key)).pk])
    assert with_key(key).get(participants).status_code == 401
    assert with_key(tokens.KEY_PREFIX + "made-up").get(participants).status_code == 401
    assert AuditEntry.objects.filter(study=team.mine, kind="token", what__startswith="revoked").exists()


# --- the audit trail --------------------------------------------------------------------------------------


def entries(study: Study, kind: str) -> list[tuple[str, str]]:
    found = AuditEntry.objects.filter(study=study, kind=kind).order_by("pk")
    return list(found.values_list("username", "what"))


def test_exports_and_the_report_are_in_the_audit_trail(team, tmp_path):
    analyst = team.client("analyst")
    analyst.get(reverse("api:responses", args=["mine"]), {"format": "csv", "completed": "1"})
    analyst.get(reverse("analysis:report", args=["mine"]), {"format": "json"})
    call_command("export_study", "mine", "--out", str(tmp_path), stdout=io.StringIO())
    assert entries(team.mine, "export") == [
        ("analyst", "API: responses format=csv&completed=1"), ("analyst", "report (json) format=json"),
        ("(command line)", f"export_study command: csv to {tmp_path}"),
    ]
    # a refused export is not one
    team.client("viewer").get(reverse("api:responses", args=["mine"]))
    assert len(entries(team.mine, "export")) == 3


def test_changes_actions_and_members_are_in_the_audit_trail_and_outlive_the_member(team):
    owner = team.client("owner")
    url = reverse("admin:studyapp_study_change", args=[team.mine.pk])
    assert owner.post(url, study_form(team.mine, title="Renamed")).status_code == 302
    stimulus = team.mine.stimuli.first()
    trace = stimulus.traces.get(condition="r1")
    trace.text = "Corrected"
    trace.save()  # not through the admin: not in the trail (the texts' versions keep it)
    act(owner, "studyapp_study", "pause_study", [team.mine.pk])
    team.mine.refresh_from_db()
    form = study_form(team.mine)
    form.update({"members-TOTAL_FORMS": form["members-TOTAL_FORMS"] + 1,
                 f"members-{form['members-TOTAL_FORMS']}-user": team.users["outsider"].pk,
                 f"members-{form['members-TOTAL_FORMS']}-role": "viewer"})
    viewer_index = next(i for i, m in enumerate(team.mine.members.all()) if m.role == "viewer")
    form[f"members-{viewer_index}-DELETE"] = "on"
    assert owner.post(url, form).status_code == 302
    changes = [what for _, what in entries(team.mine, "change")]
    assert changes[0].startswith("study “Renamed (mine)”: Changed Title")
    assert "Added study member “outsider: viewer”" in changes[1]
    assert "Deleted study member “viewer: viewer”" in changes[1]
    assert entries(team.mine, "action") == [("owner", "Pause the selected studies (no new participants; "
                                                      "active ones finish) (studies)")]
    team.users["owner"].delete()
    assert AuditEntry.objects.filter(study=team.mine, username="owner", user=None).count() == 3


def test_a_prolific_action_is_in_the_audit_trail(team, monkeypatch, filesystem_broker):
    monkeypatch.setenv("PROLIFIC_API_TOKEN", "token-for-the-test")
    Study.objects.filter(pk=team.mine.pk).update(prolific_study_id="STUDY1")
    act(team.client("owner"), "studyapp_study", "sync_with_prolific", [team.mine.pk])
    [(username, what)] = entries(team.mine, "prolific")
    assert username == "owner" and what.startswith("queued Sync with Prolific (0) #")


def test_the_owner_reads_the_studys_trail_as_csv_and_nobody_else_does(team):
    team.client("analyst").get(reverse("api:participants", args=["mine"]))
    team.client("outsider").get(reverse("api:participants", args=["theirs"]))
    url = reverse("admin:studyapp_auditentry_csv") + f"?study__id__exact={team.mine.pk}"
    rows = list(csv.reader(io.StringIO(b"".join(team.client("owner").get(url).streaming_content).decode())))
    assert rows[0] == ["at", "study", "username", "kind", "what"]
    assert [row[1:4] for row in rows[1:]] == [["mine", "analyst", "export"]]
    for role in ("editor", "analyst", "viewer"):
        assert team.client(role).get(url).status_code == DENIED
    everything = team.client("owner").get(reverse("admin:studyapp_auditentry_csv")).streaming_content
    assert b"theirs" not in b"".join(everything)


# --- one team, as before ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_makes_the_existing_staff_and_researchers_owners_of_the_existing_studies():
    before = [("studyapp", "0018_step_rating")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    old.get_model("studyapp", "Study").objects.create(
        slug="before", title="Before teams", completion_code="A", no_consent_code="B",
        failed_attention_code="C")
    User = old.get_model("auth", "User")
    User.objects.create(username="staff", is_staff=True)
    User.objects.create(username="participant-facing")
    researcher = User.objects.create(username="researcher")
    researcher.groups.add(old.get_model("auth", "Group").objects.create(name="researchers"))
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    owners = StudyMember.objects.filter(study__slug="before", role=Role.OWNER)
    assert sorted(owners.values_list("user__username", flat=True)) == ["researcher", "staff"]
    assert Group.objects.filter(name="researchers").exists()


def test_a_study_keeps_an_owner(team):
    """The last owner cannot leave or step down (nothing changes, the form says why); with a second owner,
    either may go."""
    owner = team.client("owner")
    url = reverse("admin:studyapp_study_change", args=[team.mine.pk])
    members = list(team.mine.members.all())
    mine = next(i for i, m in enumerate(members) if m.role == Role.OWNER)
    leaving = {**study_form(team.mine), f"members-{mine}-DELETE": "on"}
    stepping_down = {**study_form(team.mine), f"members-{mine}-role": Role.VIEWER}
    for form in (leaving, stepping_down):
        response = owner.post(url, form)
        assert response.status_code == 200 and "A study keeps at least one owner" in response.content.decode()
    assert team.mine.members.get(user=team.users["owner"]).role == Role.OWNER
    editor = next(i for i, m in enumerate(members) if m.role == Role.EDITOR)
    handing_over = {**study_form(team.mine), f"members-{editor}-role": Role.OWNER,
                    f"members-{mine}-DELETE": "on"}
    assert owner.post(url, handing_over).status_code == 302
    owners = team.mine.members.filter(role=Role.OWNER).values_list("user__username", flat=True)
    assert list(owners) == ["editor"]
