"""Admin for studies and their data. Participants' answers are read-only here: nothing edits them."""

from collections.abc import Callable
from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import ProtectedError, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from traces.lifecycle import QueueUnreachable

from . import access, audit, pilot, prolific_actions, simulation_texts, test_runs, tokens, versions
from .admin_access import StudyScopedAdmin, StudyScopedInline, needs
from .exports import trace_readers
from .models import (
    AuditEntry,
    Condition,
    Item,
    PageVisit,
    Participant,
    ProlificAction,
    Response,
    Role,
    Stimulus,
    StimulusTrace,
    Study,
    StudyMember,
    StudyToken,
    TraceKind,
    TrialJudgement,
    refuse_deleting_texts_in_use,
)
from .output_stimuli import build_from_outputs
from .scales import SCALES
from .scales.studies import ScaleRefused, add_scale
from .spec.admin_views import StudyFileAdminMixin
from .stimulus_builder import BuildError, BuildResult, build_stimuli
from .stimulus_forms import BuildFromOutputsForm, BuildStimuliForm
from .study_setup import add_defaults, answer_warnings, contradicted_answer, readiness_problems
from .translation_admin import TranslatedAdminMixin

QUEUED_TOO_LONG = timedelta(minutes=2)
#: a new API token's expiry, unless its maker sets another
TOKEN_LIFETIME = timedelta(days=90)
WHERE_OUTCOMES_SHOW = (
    "A worker (the scheduler) makes the call; its outcome shows under Prolific actions and on the monitor."
)


class ConditionInline(StudyScopedInline, TranslatedAdminMixin, admin.TabularInline):
    """The study's conditions, in its order. Once participants have taken part none is added or removed,
    and the codes, order and kinds of text stay as they are (Condition.clean says why). Their headings in
    the study's other languages are columns of their own."""

    model = Condition
    extra = 0
    fields = ("code", "label", "trace_heading", "trace_kind", "text_source", "position")

    def has_add_permission(self, request: HttpRequest, obj: Study | None = None) -> bool:
        return not (obj and obj.taken_part()) and super().has_add_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Study | None = None) -> bool:
        return not (obj and obj.taken_part()) and super().has_delete_permission(request, obj)


def _adding_scale(code: str) -> Callable[["StudyAdmin", HttpRequest, QuerySet], None]:
    """The changelist's action adding the library scale ``code`` to each selected study (one per scale)."""
    def add(modeladmin: "StudyAdmin", request: HttpRequest, queryset: QuerySet) -> None:
        modeladmin.add_covariate_scale(request, queryset, code)

    add.__name__ = f"add_scale_{code}"
    scale = SCALES[code]
    described = f"Add the covariate scale {scale.abbreviation} ({len(scale.items)} end-of-study items)"
    return admin.action(description=f"{described} to the selected studies", permissions=["change"])(add)


class StudyMembersFormSet(forms.BaseInlineFormSet):
    """A study that has an owner keeps one: without, only a superuser could manage its members again. (A new
    study's maker becomes its owner; a study with no owner yet, a superuser's, may stay so.)"""

    def clean(self) -> None:
        super().clean()
        if self.instance.pk is None or not self.instance.members.filter(role=Role.OWNER).exists():
            return
        kept = [form.cleaned_data for form in self.forms
                if form.cleaned_data and not self._should_delete_form(form)]
        if not any(row.get("role") == Role.OWNER for row in kept):
            raise forms.ValidationError(
                "A study keeps at least one owner: make another member an owner before removing or "
                "changing the last one."
            )


class StudyMemberInline(admin.TabularInline):
    """The study's members and their roles, seen and changed by its owners only (whatever Django's model
    permissions say: this is the team's business); each added or removed member is in the audit trail."""

    model = StudyMember
    formset = StudyMembersFormSet
    extra = 0
    fields = ("user", "role", "added_at")
    readonly_fields = ("added_at",)

    def _owner(self, request: HttpRequest, obj: Study | None = None) -> bool:
        """Of this study; without one (Django's check of the inline's rows), of some study."""
        if obj is None:
            return access.studies_for(request.user, access.MANAGE).exists()
        return access.can(request.user, obj, access.MANAGE)

    has_view_permission = has_add_permission = has_change_permission = has_delete_permission = _owner


@admin.register(Study)
class StudyAdmin(StudyFileAdminMixin, TranslatedAdminMixin, StudyScopedAdmin):
    list_display = ("slug", "title", "status", "target_per_condition", "trials_per_participant", "links")
    list_filter = ("status",)
    prepopulated_fields = {"slug": ("title",)}
    radio_fields = {"answer_position": admin.VERTICAL, "trial_task": admin.VERTICAL,
                    "truth_definition": admin.VERTICAL}
    inlines = [ConditionInline, StudyMemberInline]
    study_field = "pk"
    delete_action = access.MANAGE  # a study is deleted by its owners only
    actions = ["open_study", "pause_study", "close_study", "sync_with_prolific", "run_pilot_bots",
               "prepare_for_simulation", *(_adding_scale(code) for code in SCALES)]
    readonly_fields = ("prolific_synced_at", "prolific_sync_outcome")
    fieldsets = [
        (None, {"fields": ("slug", "title", "status", "design", "target_per_condition",
                           "trials_per_participant", "time_limit_minutes")}),
        ("Prolific", {"fields": (
            "prolific_study_id", "completion_code", "no_consent_code", "failed_attention_code",
            "consent_hold_minutes", "return_countdown_seconds", "test_prolific_pids", "prolific_synced_at",
            "prolific_sync_outcome",
        )}),
        ("Trial pages", {"fields": ("answer_position", "step_rating", "protect_problem_text")}),
        ("Trial task", {"fields": (
            "trial_task", "truth_definition", "confidence_anchors", "simulation_feedback",
        ), "description": "Verification and simulation score each judgement against the stimuli's ground "
                          "truth: their grades (verification) or the model's answer among their answer "
                          "candidates (simulation, with each text's masked version). Set them on the "
                          "stimuli; the study cannot go live without them."}),
        ("Attention checks and practice", {"fields": (
            "attention_checks", "attention_fail_limit", "practice_trial",
        )}),
        ("Consent and debriefing", {"fields": (
            "consent_text", "researchers", "institution", "ethics_approval", "contact", "estimated_minutes",
            "withdrawal_text", "debriefing_text",
        )}),
        ("Languages", {"fields": ("languages",), "description": (
            "The study's own texts (above, and its conditions', items' and stimuli's) are in its first "
            "language. Each other language it offers needs every text participants read in that language: "
            "the sections below, and those of each condition, item and stimulus. Names, contact details and "
            "the ethics reference are shown as written. See docs/researchers/languages.md."
        )}),
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Anyone who may add studies may start one, and owns it."""
        return admin.ModelAdmin.has_add_permission(self, request)

    def has_view_permission(self, request: HttpRequest, obj: Study | None = None) -> bool:
        """The list of one's studies opens before the first (to add it); each study only to its members."""
        if obj is None:
            return admin.ModelAdmin.has_view_permission(self, request)
        return super().has_view_permission(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Study | None = None) -> tuple:
        """Going live, pausing and closing are the owners' (an editor's draft goes live through them)."""
        fixed = super().get_readonly_fields(request, obj)
        if obj is not None and not access.can(request.user, obj, access.OPERATE):
            return (*fixed, "status")
        return fixed

    def save_model(self, request: HttpRequest, obj: Study, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            add_defaults(obj)
            access.make_owner(request.user, obj)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict | None = None) -> HttpResponse:
        """Say, before any edit, what stays fixed once participants have taken part."""
        study = self.get_object(request, unquote(object_id))
        taken = study.taken_part() if study is not None and request.method == "GET" else ""
        if taken:
            self.message_user(request, (
                f"In this study {taken}: its design, its trials per participant, and its conditions' codes, "
                "order and kinds of text stay as they are, and no condition is added or removed. Labels, "
                "headings and sources can be corrected."
            ), messages.INFO)
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="Links")
    def links(self, obj: Study) -> str:
        """Its pages; the audit trail opens for its owners only."""
        shown = format_html(
            '<a href="{}">monitor</a> · <a href="{}">preview</a> · '
            '<a href="{}">build stimuli from traces</a> · <a href="{}">from a model\'s graded outputs</a>',
            reverse("studyapp:monitor", args=[obj.slug]),
            reverse("studyapp:preview", args=[obj.slug]),
            reverse("admin:studyapp_study_build_stimuli", args=[obj.pk]),
            reverse("admin:studyapp_study_build_from_outputs", args=[obj.pk]),
        )
        query = f"?study__id__exact={obj.pk}"
        return format_html('{} · <a href="{}">audit trail</a> (<a href="{}">CSV</a>)', shown,
                           reverse("admin:studyapp_auditentry_changelist") + query,
                           reverse("admin:studyapp_auditentry_csv") + query)

    def get_urls(self) -> list:
        build = self.admin_site.admin_view(self.build_stimuli_view)
        from_outputs = self.admin_site.admin_view(self.build_from_outputs_view)
        return [
            path("<int:pk>/build-stimuli/", build, name="studyapp_study_build_stimuli"),
            path("<int:pk>/build-from-outputs/", from_outputs, name="studyapp_study_build_from_outputs"),
            *super().get_urls(),
        ]

    def _changeable(self, request: HttpRequest, pk: int) -> Study:
        study = self.get_object(request, str(pk))
        if not self.has_change_permission(request, study):
            raise PermissionDenied
        return study

    def _built(self, request: HttpRequest, study: Study, result: BuildResult, texts: str) -> HttpResponse:
        """Say what a build made and what it left, and go back to the study."""
        made = f"{len(result.created)} stimuli made and {len(result.completed)} completed"
        self.message_user(request, f"{made} in {study.slug}, {texts}.", messages.SUCCESS)
        if result.skipped_rated:
            self.message_user(request, "Left unchanged because participants have answered them: "
                              + ", ".join(result.skipped_rated), messages.WARNING)
        for warning in answer_warnings(study):
            self.message_user(request, warning, messages.WARNING)
        return redirect("admin:studyapp_study_change", study.pk)

    def build_from_outputs_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Stimuli drawn from one model's graded outputs, balanced over the ground truth; refused whole
        when the draw or the study's conditions cannot take them."""
        study = self._changeable(request, pk)
        form = BuildFromOutputsForm(request.POST or None, study=study)
        if request.method == "POST" and form.is_valid():
            try:
                with versions.editing(request.user):
                    result = build_from_outputs(study, form.cleaned_data["drawn"])
            except BuildError as error:
                form.add_error(None, str(error))
            else:
                return self._built(request, study, result, "each with the output's text, answer and grades")
        context = {**self.admin_site.each_context(request), "form": form, "study": study,
                   "title": f"Build stimuli for {study.slug} from a model's graded outputs",
                   "answer_only": TraceKind.ANSWER_ONLY.label, "opts": self.model._meta}
        return render(request, "admin/studyapp/study/build_from_outputs.html", context,
                      status=400 if form.errors else 200)

    def build_stimuli_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Stimuli from problems that have all four traces; a problem lacking one changes nothing."""
        study = self._changeable(request, pk)
        form = BuildStimuliForm(request.POST or None, study=study)
        if request.method == "POST" and form.is_valid():
            try:
                with versions.editing(request.user):
                    result = build_stimuli(study, form.cleaned_data["problems"], form.sources())
            except BuildError as error:
                form.add_error(None, str(error))
            else:
                return self._built(request, study, result, "with every condition's traces")
        context = {**self.admin_site.each_context(request), "form": form, "study": study,
                   "title": f"Build stimuli for {study.slug} from traces", "opts": self.model._meta}
        return render(request, "admin/studyapp/study/build_stimuli.html", context,
                      status=400 if form.errors else 200)

    @admin.action(description="Open the selected studies to participants (live)", permissions=["change"])
    @needs(access.OPERATE)
    def open_study(self, request: HttpRequest, queryset: QuerySet) -> None:
        for study in queryset:
            problems = readiness_problems(study)
            if problems:
                self.message_user(
                    request, f"{study.slug} was not opened: {' '.join(problems)}", messages.ERROR
                )
                continue
            study.status = Study.Status.LIVE
            study.save(update_fields=["status"])
            self.message_user(request, f"{study.slug} is live.", messages.SUCCESS)
            for warning in answer_warnings(study):
                self.message_user(request, f"{study.slug}: {warning}", messages.WARNING)

    def add_covariate_scale(self, request: HttpRequest, queryset: QuerySet, code: str) -> None:
        """Each selected study gets the scale's items at the end of its questionnaire, or stays as it
        was, saying why (studyapp.scales.studies.add_scale)."""
        scale = SCALES[code]
        for study in queryset:
            try:
                items = add_scale(study, code)
            except ScaleRefused as refused:
                self.message_user(request, f"{study.slug}: {scale.abbreviation} not added. {refused}",
                                  messages.ERROR)
                continue
            self.message_user(request, f"{study.slug}: {scale.abbreviation} added as {len(items)} "
                              f"end-of-study items, {items[0].code} to {items[-1].code}.", messages.SUCCESS)

    @admin.action(description="Fill answer candidates and masked texts (simulation task; empty ones only)",
                  permissions=["change"])
    def prepare_for_simulation(self, request: HttpRequest, queryset: QuerySet) -> None:
        for study in queryset:
            done = simulation_texts.prepare(study)
            refused = f" Not masked (write them in the stimulus's page): {'; '.join(done.refused)}" \
                if done.refused else ""
            self.message_user(request, f"{study.slug}: {done.summary()}.{refused}",
                              messages.WARNING if done.refused else messages.SUCCESS)

    @admin.action(description="Pause the selected studies (no new participants; active ones finish)",
                  permissions=["change"])
    @needs(access.OPERATE)
    def pause_study(self, request: HttpRequest, queryset: QuerySet) -> None:
        n = queryset.update(status=Study.Status.PAUSED)
        self.message_user(request, f"{n} studies paused.", messages.SUCCESS)

    @admin.action(description="Sync the selected studies with Prolific now (re-open returned places)",
                  permissions=["change"])
    @needs(access.OPERATE)
    def sync_with_prolific(self, request: HttpRequest, queryset: QuerySet) -> None:
        for study in queryset:
            try:
                action = prolific_actions.sync(study, request.user)
            except prolific_actions.ActionRefused as error:
                self.message_user(request, f"{study.slug}: not synced. {error}", messages.WARNING)
                continue
            self.message_user(request, f"{study.slug}: {action} queued. {WHERE_OUTCOMES_SHOW}",
                              messages.SUCCESS)

    @admin.action(description="Run N pilot bots through the selected studies…", permissions=["change"])
    def run_pilot_bots(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        """The bots of ``manage.py pilot``, walked by a worker on the default queue (pilot.request_pilot)."""
        form = PilotForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            context = {**self.admin_site.each_context(request), "form": form, "studies": queryset,
                       "title": "Run pilot bots", "opts": self.model._meta,
                       "checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME}
            return render(request, "admin/studyapp/study/pilot_form.html", context)
        for study in queryset:
            try:
                pilot.request_pilot(study, user=request.user, **form.cleaned_data)
            except QueueUnreachable as error:
                self.message_user(request, f"{study.slug}: no bots sent. {error}", messages.ERROR)
                return None
            except ValueError as error:  # rules these bots cannot follow on this study
                self.message_user(request, f"{study.slug}: no bots sent. {error}", messages.ERROR)
                continue
            self.message_user(
                request, format_html(
                    '{}: {} pilot bots sent to a worker; <a href="{}">the monitor</a> shows how they do.',
                    study.slug, form.cleaned_data["bots"], reverse("studyapp:monitor", args=[study.slug]),
                ), messages.SUCCESS,
            )
        return None

    @admin.action(description="Close the selected studies (no new participants; active ones finish)",
                  permissions=["change"])
    @needs(access.OPERATE)
    def close_study(self, request: HttpRequest, queryset: QuerySet) -> None:
        n = queryset.update(status=Study.Status.CLOSED)
        self.message_user(request, f"{n} studies closed.", messages.SUCCESS)


def _study_has_participants(stimulus: Stimulus | None) -> bool:
    """Participants' stored sequences name the study's stimuli: deleting one would break their trials."""
    return stimulus is not None and stimulus.study.participants.exists()


class StimulusTraceInline(StudyScopedInline, TranslatedAdminMixin, admin.StackedInline):
    model = StimulusTrace
    extra = 0
    readonly_fields = ("reference_trace", "provenance_text", "seen_by", "versions_read")
    exclude = ("provenance",)

    def study_of(self, parent: Stimulus) -> Study:
        return parent.study

    def get_readonly_fields(self, request: HttpRequest, obj: Stimulus | None = None) -> tuple:
        """Who read each text names participants: shown only to those who may read the study's data."""
        fields = super().get_readonly_fields(request, obj)
        if obj is None or access.can(request.user, obj.study, access.DATA):
            return fields
        return tuple(f for f in fields if f not in ("seen_by", "versions_read"))

    @admin.display(description="Where the text came from")
    def provenance_text(self, obj: StimulusTrace) -> str:
        facts = obj.provenance or {}
        shown = {k: v for k, v in facts.items() if k != "prompt"}
        prompt = "\n\n".join(f"[{t.get('role')}] {t.get('content')}" for t in facts.get("prompt") or [])
        return format_html("<pre style='white-space: pre-wrap'>{}{}</pre>",
                           "\n".join(f"{k}: {v}" for k, v in shown.items()) or "-",
                           f"\n\nprompt:\n{prompt}" if prompt else "")

    @admin.display(description="Participants who read it")
    def seen_by(self, obj: StimulusTrace) -> str:
        if obj.pk is None:
            return "-"
        # one pass over the study's participants for all of a stimulus's traces (an inline is made per page)
        readers = self.__dict__.setdefault("_readers", {})
        if obj.stimulus.study_id not in readers:
            readers[obj.stimulus.study_id] = trace_readers(obj.stimulus.study)
        people = readers[obj.stimulus.study_id].get((obj.stimulus_id, obj.condition), [])
        return ", ".join(pid for _, pid in people) or "-"

    @admin.display(description="Versions, and who read each")
    def versions_read(self, obj: StimulusTrace) -> str:
        """Every version of what this condition's participants read (the texts in a <details>, which
        opens without JavaScript), who made it, what changed from the one before, and who was shown it."""
        if obj.pk is None:
            return "-"
        readers = versions.readers(trace_version__trace=obj)
        rows = []
        history = obj.versions.select_related("created_by").order_by("number")
        for version, changed in versions.with_changes(history):
            texts = version.shown_texts()
            shown_to = readers.get(version.pk, [])
            people = [f"{pid} (preview)" if preview else pid for _, pid, preview in shown_to]
            translated = "".join(  # "question (de): ...", after the texts in the study's own language
                f"\n\n{name}:\n{chr(10).join(value) if isinstance(value, list) else value}"
                for name, value in versions.named_texts(version).items() if name not in texts
            )
            rows.append((
                version.number, version.created_at.strftime("%Y-%m-%d %H:%M"),
                f" by {version.created_by}" if version.created_by else "",
                f"; changed: {', '.join(changed)}" if changed else "",
                ", ".join(people) or "nobody yet",
                "\n".join(texts["context_facts"]), texts["question"], texts["model_answer"], texts["text"],
                f"\n\nMasked (simulation):\n{texts['masked_text']}" if texts["masked_text"] else "",
                translated,
            ))
        return format_html_join(
            "", "<details><summary>Version {} ({} UTC{}{}): read by {}</summary><pre style='white-space: "
            "pre-wrap'>Facts:\n{}\n\nQuestion: {}\nThe model's answer: {}\n\n{}{}{}</pre></details>", rows,
        ) or "-"

    def has_delete_permission(self, request: HttpRequest, obj: Stimulus | None = None) -> bool:
        return not _study_has_participants(obj) and super().has_delete_permission(request, obj)


@admin.register(Stimulus)
class StimulusAdmin(TranslatedAdminMixin, StudyScopedAdmin):
    list_display = ("code", "study", "question", "model_answer", "answer_check")
    list_filter = ("study",)
    search_fields = ("code", "question")
    readonly_fields = ("answer_check", "ground_truth")
    inlines = [StimulusTraceInline]
    view_action = access.READ_DESIGN

    @admin.display(description="Ground truth under each definition")
    def ground_truth(self, obj: Stimulus) -> str:
        """The grades as the tasks read them: the answer, and the decomposition trace's two steps."""
        def word(value: bool | None) -> str:
            return {True: "right", False: "wrong", None: "not graded"}[value]

        answers = [f"{d}: answer {word(obj.answer_correct(d))}, trace {word(obj.trace_correct(d))}"
                   for d in ("strict", "published")]
        return "; ".join([*answers, f"intended: trace {word(obj.trace_correct('intended'))}"])

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("traces")

    @admin.display(description="Does a trace contradict the shown answer?")
    def answer_check(self, obj: Stimulus) -> str:
        if obj.pk is None:
            return "-"
        return " ".join(contradicted_answer(obj)) or "No (no trace that states its answer names another)."

    def has_delete_permission(self, request: HttpRequest, obj: Stimulus | None = None) -> bool:
        """Once a study has participants, its stimuli stay (their text can still be corrected)."""
        return not _study_has_participants(obj) and super().has_delete_permission(request, obj)

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict | None = None
    ) -> HttpResponse:
        """A stimulus that must stay: back to its form, saying why (not a bare 403)."""
        stimulus = self.get_object(request, unquote(object_id))
        if stimulus is not None:
            try:
                refuse_deleting_texts_in_use(Stimulus.objects.filter(pk=stimulus.pk))
            except ProtectedError as refused:
                self.message_user(request, refused.args[0], messages.ERROR)
                return redirect("admin:studyapp_stimulus_change", stimulus.pk)
        return super().delete_view(request, object_id, extra_context)

    def changeform_view(self, request: HttpRequest, object_id: str | None = None, form_url: str = "",
                        extra_context: dict | None = None) -> HttpResponse:
        """Each text the form changes (the stimulus's and its traces') gets one new version, by this user."""
        with versions.editing(request.user):
            return super().changeform_view(request, object_id, form_url, extra_context)


@admin.register(Item)
class ItemAdmin(TranslatedAdminMixin, StudyScopedAdmin):
    """Items on 5- or 7-point scales (Item.clean checks one anchor per point), reverse-keyed or not."""

    view_action = access.READ_DESIGN

    list_display = ("code", "study", "construct", "scope", "scale_points", "reverse_keyed", "text")
    list_filter = ("study", "construct", "scope", "scale_points", "reverse_keyed")
    search_fields = ("code", "text")


class ReadOnlyAdmin(StudyScopedAdmin):
    """Participants' records are evidence: view them here, never add or edit them. They are the study's
    data: its analysts and owners see them, and only owners act on them (Prolific's calls included)."""

    view_action = access.DATA
    change_action = access.OPERATE

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Participant)
class ParticipantAdmin(ReadOnlyAdmin):
    list_display = (
        "prolific_pid", "study", "condition", "status", "is_preview", "test_run", "on_prolific",
        "attention_passed", "pages_done", "started_at", "ended_at",
    )
    list_filter = ("study", "status", "condition__code", "is_preview", "test_run", "attention_passed")
    search_fields = ("prolific_pid", "prolific_session_id")
    actions = ["mark_returned", "approve_on_prolific", "reject_on_prolific", "bonus_on_prolific",
               "mark_test_runs", "count_again", "delete_test_runs"]

    @admin.display(description="On Prolific")
    def on_prolific(self, obj: Participant) -> str:
        """Whether Prolific confirmed the SESSION_ID as this participant's: only then is anything sent."""
        if obj.is_preview:
            return "-"
        if obj.prolific_problem:
            return f"Flagged: {obj.prolific_problem}"
        return "Verified" if obj.prolific_verified_at else "Not verified yet"

    def has_mark_returned_permission(self, request: HttpRequest) -> bool:
        """Records are never edited here, but a researcher who may change participants may end one."""
        return request.user.has_perm("studyapp.change_participant")

    @admin.action(description="Mark as returned on Prolific (their places re-open)",
                  permissions=["mark_returned"])
    def mark_returned(self, request: HttpRequest, queryset: QuerySet) -> None:
        n = queryset.filter(status=Participant.Status.ACTIVE).update(
            status=Participant.Status.RETURNED, ended_at=timezone.now()
        )
        self.message_user(request, f"{n} active participants marked as returned.", messages.SUCCESS)

    @admin.action(description="Mark as test runs (never counted; their places re-open)",
                  permissions=["mark_returned"])
    def mark_test_runs(self, request: HttpRequest, queryset: QuerySet) -> None:
        try:
            n = test_runs.mark(queryset.select_related("study"))
        except test_runs.Refused as error:
            self.message_user(request, f"Nothing marked. {error}", messages.ERROR)
            return
        self.message_user(request, f"{n} marked as test runs: no longer counted, exported or analysed.",
                          messages.SUCCESS)

    @admin.action(description="Count test runs as participants again", permissions=["mark_returned"])
    def count_again(self, request: HttpRequest, queryset: QuerySet) -> None:
        n = test_runs.count_again(queryset)
        self.message_user(request, f"{n} test runs counted as participants again.", messages.SUCCESS)

    def has_remove_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("studyapp.delete_participant")

    @admin.action(description="Delete test runs, previews and pilot bots (with their answers)",
                  permissions=["remove"])
    def delete_test_runs(self, request: HttpRequest, queryset: QuerySet) -> None:
        try:
            n = test_runs.delete(queryset)
        except test_runs.Refused as error:
            self.message_user(request, f"Nothing deleted. {error}", messages.ERROR)
            return
        self.message_user(request, f"{n} test runs, previews or pilot bots deleted.", messages.SUCCESS)


    def has_prolific_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("studyapp.change_participant")

    def _each_study(self, request: HttpRequest, queryset: QuerySet, act) -> None:
        """Run ``act(study, participants)`` per study of the selection; say what Prolific answered."""
        by_study: dict[Study, list[Participant]] = {}
        for participant in queryset.select_related("study"):
            by_study.setdefault(participant.study, []).append(participant)
        for study, people in by_study.items():
            try:
                done = act(study, people)
            except prolific_actions.ActionRefused as error:
                self.message_user(request, f"{study.slug}: nothing sent. {error}", messages.ERROR)
                continue
            queued = ", ".join(str(action) for action in (done if isinstance(done, list) else [done]))
            self.message_user(request, f"{study.slug}: queued {queued}. {WHERE_OUTCOMES_SHOW}",
                              messages.SUCCESS)

    def _form_page(self, request: HttpRequest, queryset: QuerySet, form, action: str, explanation: str,
                   submit: str) -> HttpResponse:
        context = {**self.admin_site.each_context(request), "form": form, "participants": queryset,
                   "action": action, "explanation": explanation, "submit": submit, "title": submit,
                   "opts": self.model._meta, "checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME}
        return render(request, "admin/studyapp/participant/prolific_form.html", context)

    @admin.action(description="Approve on Prolific (completed participants)", permissions=["prolific"])
    def approve_on_prolific(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each_study(request, queryset, lambda study, people: prolific_actions.approve(
            study, people, request.user))

    @admin.action(description="Reject on Prolific (failed attention checks)…", permissions=["prolific"])
    def reject_on_prolific(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        form = RejectionForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            message = form.cleaned_data["message"]
            self._each_study(request, queryset, lambda study, people: prolific_actions.reject(
                study, people, message, request.user))
            return None
        return self._form_page(
            request, queryset, form, "reject_on_prolific",
            "Prolific shows the participant this message; it must be at least 100 characters. Only "
            "participants screened out by the attention checks can be rejected.", "Reject on Prolific",
        )

    @admin.action(description="Set up a bonus on Prolific (shows the cost; paid in a second step)…",
                  permissions=["prolific"])
    def bonus_on_prolific(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        form = BonusForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            amount = form.cleaned_data["amount"]
            self._each_study(request, queryset, lambda study, people: prolific_actions.set_up_bonus(
                study, people, amount, request.user))
            self.message_user(request, "Nothing is paid yet: once the set-up is done, check the cost under "
                              "Prolific actions and pay it there.", messages.WARNING)
            return None
        return self._form_page(
            request, queryset, form, "bonus_on_prolific",
            "Each selected participant gets this bonus, in the study's currency on Prolific. Prolific "
            "answers with the amount, its fees and the total; nothing is paid until you pay the set-up.",
            "Set up the bonus",
        )


class PilotForm(forms.Form):
    bots = forms.IntegerField(min_value=1, max_value=pilot.MAX_BOTS, initial=8,
                              help_text="They take places as participants do, among themselves: the "
                              "least-filled condition (in turn), the least-held stimulus list; the run ends "
                              "when they fill the study.")
    answers = forms.ChoiceField(choices=[(r, r) for r in pilot.ANSWER_RULES], initial="random",
                                help_text="Ratings: at random on each item's scale, or always this value "
                                "(refused if it is off some item's scale).")
    attention = forms.ChoiceField(choices=[(r, r) for r in pilot.ATTENTION_RULES], initial="pass",
                                  help_text="Attention checks: passed, failed, or each at random.")
    leave = forms.FloatField(min_value=0, max_value=1, initial=0, required=False,
                             help_text="Attrition: the share of bots (0 to 1) that stop at a random trial "
                             "and are marked returned, as participants who return the study on Prolific are; "
                             "their places and lists re-open for the next bots.")
    seed = forms.IntegerField(required=False, help_text="For the random answers, to repeat a run.")
    accuracy = forms.CharField(required=False, help_text="Verification and simulation: per condition, the "
                               "probability that a bot judges right, e.g. steps=0.9,plain=0.6 (empty: at "
                               "random).")

    def clean_leave(self) -> float:
        """Left empty: no bot leaves."""
        return self.cleaned_data["leave"] or 0.0

    def clean_accuracy(self) -> dict[str, float]:
        try:
            return pilot.parse_accuracy(self.cleaned_data["accuracy"])
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None


class RejectionForm(forms.Form):
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 5, "cols": 80}),
                              initial=prolific_actions.DEFAULT_REJECTION_MESSAGE)

    def clean_message(self) -> str:
        message = self.cleaned_data["message"].strip()
        if len(message) < prolific_actions.MIN_REJECTION_MESSAGE:
            raise forms.ValidationError(
                f"Prolific needs at least {prolific_actions.MIN_REJECTION_MESSAGE} characters; this has "
                f"{len(message)}."
            )
        return message


class BonusForm(forms.Form):
    amount = forms.CharField(help_text="Per participant, in the study's currency, e.g. 0.50.")

    def clean_amount(self) -> str:
        try:
            return str(prolific_actions.bonus_amount(self.cleaned_data["amount"]))
        except prolific_actions.ActionRefused as error:
            raise forms.ValidationError(str(error)) from None


@admin.register(ProlificAction)
class ProlificActionAdmin(ReadOnlyAdmin):
    """What was sent to Prolific from here and what it answered; bonus set-ups are paid from here."""

    list_display = (
        "id", "study", "kind", "n_participants", "outcome", "cost", "paid_at", "created_by", "created_at",
    )
    list_filter = ("study", "kind", "status")
    actions = ["pay_bonuses"]

    @admin.display(description="Participants")
    def n_participants(self, obj: ProlificAction) -> int:
        return len(obj.participants)

    @admin.display(description="Outcome")
    def outcome(self, obj: ProlificAction) -> str:
        if obj.status == ProlificAction.Status.QUEUED and obj.created_at < timezone.now() - QUEUED_TOO_LONG:
            return f"{obj.get_status_display()}: none has taken it yet (is the scheduler running?)"
        error = (obj.response or {}).get("error") if obj.status != ProlificAction.Status.DONE else None
        return f"{obj.get_status_display()}: {error}" if error else obj.get_status_display()

    @admin.display(description="Cost (amount + fees = total)")
    def cost(self, obj: ProlificAction) -> str:
        r = obj.response or {}
        return f"{r['amount']} + {r.get('fees', 0)} = {r.get('total_amount')}" if "amount" in r else "-"

    def has_pay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("studyapp.change_prolificaction")

    @admin.action(description="Pay the selected bonus set-ups on Prolific…", permissions=["pay"])
    def pay_bonuses(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        setups = list(queryset.filter(kind=ProlificAction.Kind.BONUS_SETUP).select_related("study"))
        if "apply" not in request.POST:
            context = {**self.admin_site.each_context(request), "setups": setups, "title": "Pay bonuses",
                       "opts": self.model._meta, "checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME}
            return render(request, "admin/studyapp/prolificaction/pay.html", context)
        for setup in setups:
            try:
                paid = prolific_actions.pay_bonus(setup, request.user)
            except prolific_actions.ActionRefused as error:
                self.message_user(request, f"Set-up #{setup.pk}: not paid. {error}", messages.ERROR)
                continue
            self.message_user(request, f"Set-up #{setup.pk}: {paid} queued, at most once. If it fails, "
                              "check the study's bonuses on Prolific before setting it up again. "
                              f"{WHERE_OUTCOMES_SHOW}", messages.SUCCESS)
        return None


@admin.register(Response)
class ResponseAdmin(ReadOnlyAdmin):
    study_field = "participant__study"
    list_display = ("participant", "stimulus", "item", "value", "position", "time_on_page_ms", "submitted_at")
    list_filter = ("participant__study", "participant__condition__code", "item__construct")
    search_fields = ("participant__prolific_pid", "item__code")
    list_select_related = ("participant", "stimulus", "item")


@admin.register(TrialJudgement)
class TrialJudgementAdmin(ReadOnlyAdmin):
    study_field = "participant__study"
    list_display = ("participant", "stimulus", "condition", "task", "choice", "correct", "truth",
                    "confidence", "server_ms", "choice_ms", "submitted_at")
    list_filter = ("participant__study", "task", "condition", "correct")
    search_fields = ("participant__prolific_pid", "stimulus__code")
    list_select_related = ("participant", "stimulus")


@admin.register(PageVisit)
class PageVisitAdmin(ReadOnlyAdmin):
    study_field = "participant__study"
    list_display = ("participant", "page", "first_shown_at", "last_shown_at", "submitted_at")
    list_filter = ("participant__study", "page")
    list_select_related = ("participant",)


class StudyTokenForm(forms.ModelForm):
    class Meta:
        model = StudyToken
        fields = ("name", "studies", "role", "expires_at")

    def clean_expires_at(self):
        expires = self.cleaned_data["expires_at"]
        if expires <= timezone.now():
            raise forms.ValidationError("It would be expired already.")
        return expires


class StudyOwnersOnlyAdmin(admin.ModelAdmin):
    """The team's own records (tokens, the audit trail): the owners of a study see and manage those of
    it, whatever Django's model permissions say."""

    def _owns_some(self, request: HttpRequest) -> bool:
        return access.studies_for(request.user, access.MANAGE).exists()

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._owns_some(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._owns_some(request)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("No such record.")
        return obj


@admin.register(StudyToken)
class StudyTokenAdmin(StudyOwnersOnlyAdmin):
    """API tokens limited to studies and a role, made by an owner of each of those studies for their own
    account; the key is shown once, on the page after saving. Revoked, never edited or deleted, so the
    audit trail keeps naming them."""

    list_display = ("name", "prefix", "user", "role", "study_list", "expires_at", "revoked_at",
                    "last_used_at")
    list_filter = ("role",)
    actions = ["revoke_tokens"]
    form = StudyTokenForm

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        managed = access.studies_for(request.user, access.MANAGE)
        mine = super().get_queryset(request).filter(studies__in=managed)
        return mine.distinct().prefetch_related("studies")

    @admin.display(description="Studies")
    def study_list(self, obj: StudyToken) -> str:
        return ", ".join(study.slug for study in obj.studies.all())

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._owns_some(request)

    def formfield_for_manytomany(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "studies":  # only studies this owner may open to a script
            kwargs["queryset"] = access.studies_for(request.user, access.MANAGE)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        return {**super().get_changeform_initial_data(request), "expires_at": timezone.now() + TOKEN_LIFETIME}

    def save_model(self, request: HttpRequest, obj: StudyToken, form, change: bool) -> None:
        key, obj.prefix, obj.key_hash = tokens.new_key()
        obj.user = request.user
        super().save_model(request, obj, form, change)
        self.message_user(request, format_html(
            "The token's key, shown this once (only its hash is kept): <code>{}</code>. Send it as "
            "<code>Authorization: Token …</code>.", key), messages.WARNING)

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        token = form.instance
        until = f"{token.expires_at:%Y-%m-%d %H:%M} UTC"
        audit.record_each(token.studies.all(), request.user, audit.Kind.TOKEN,
                          f"created API token {token} ({token.role}, until {until})")

    @admin.action(description="Revoke the selected tokens (refused from now on)")
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet) -> None:
        chosen = list(queryset.filter(revoked_at__isnull=True))
        tokens.revoke(StudyToken.objects.filter(pk__in=[t.pk for t in chosen]))
        for token in chosen:
            audit.record_each(token.studies.all(), request.user, audit.Kind.TOKEN,
                              f"revoked API token {token}")
        self.message_user(request, f"{len(chosen)} tokens revoked.", messages.SUCCESS)

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return self._owns_some(request)


@admin.register(AuditEntry)
class AuditEntryAdmin(StudyOwnersOnlyAdmin):
    """Each study's audit trail, read-only, for its owners; ``csv/`` downloads the entries listed."""

    list_display = ("at", "study_slug", "username", "kind", "what")
    list_filter = (("study", admin.RelatedOnlyFieldListFilter), "kind")
    search_fields = ("username", "what")
    date_hierarchy = "at"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).filter(study__in=access.studies_for(request.user, access.MANAGE))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_urls(self) -> list:
        csv_view = self.admin_site.admin_view(self.csv_view)
        return [path("csv/", csv_view, name="studyapp_auditentry_csv"), *super().get_urls()]

    def csv_view(self, request: HttpRequest) -> StreamingHttpResponse:
        """The entries the list shows with the same filters (``?study__id__exact=…``), oldest first."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        entries = self.get_changelist_instance(request).get_queryset(request)
        response = StreamingHttpResponse(audit.csv_body(entries), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="audit-trail.csv"'
        return response
