"""Admin for problems, checkpoints and jobs: import data, launch and watch jobs, make stimuli."""

import json

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.html import format_html

from studyapp.models import ConditionCode, Study

from . import jobs, loaders
from .grading import percent
from .importing import import_problems
from .models import Checkpoint, GeneratedTrace, Job, Problem, ReferenceTrace
from .stimuli import traces_to_stimuli


class ImportProblemsForm(forms.Form):
    format = forms.ChoiceField(choices=[(name, name) for name in sorted(loaders.LOADERS)])
    split = forms.CharField(help_text="CoTempQA: the relation (equal, overlap, mix, during). bAbI: the task.")
    file = forms.FileField(help_text="JSON Lines, one problem (or bAbI story) a line.")


@admin.register(Problem)
class ProblemAdmin(admin.ModelAdmin):
    list_display = ("source_id", "dataset", "split", "question")
    list_filter = ("dataset", "split")
    search_fields = ("source_id", "question")
    change_list_template = "admin/traces/problem/change_list.html"

    def get_urls(self) -> list:
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="traces_problem_import"),
            *super().get_urls(),
        ]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """Upload a data file; a malformed one is refused whole, naming the line."""
        form = ImportProblemsForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                result = import_problems(
                    form.cleaned_data["format"], form.cleaned_data["file"], form.cleaned_data["split"]
                )
            except (loaders.LoadError, ValueError) as error:
                form.add_error("file", f"Nothing was imported. {error}")
            else:
                self.message_user(
                    request,
                    f"Imported {result.created} problems ({result.already_there} were already there).",
                    messages.SUCCESS,
                )
                return redirect("admin:traces_problem_changelist")
        context = {**self.admin_site.each_context(request), "form": form, "title": "Import problems",
                   "opts": self.model._meta}
        status = 400 if form.errors else 200
        return render(request, "admin/traces/problem/import.html", context, status=status)


@admin.register(ReferenceTrace)
class ReferenceTraceAdmin(admin.ModelAdmin):
    list_display = ("problem", "kind", "source")
    list_filter = ("kind",)


@admin.register(Checkpoint)
class CheckpointAdmin(admin.ModelAdmin):
    list_display = ("name", "path", "base", "setting", "made_by", "created_at")
    list_filter = ("setting",)
    readonly_fields = ("made_by", "created_at")


class LaunchJobForm(forms.ModelForm):
    """Choose checkpoint, problems, setting and parameters; saving launches the job."""

    dataset = forms.ChoiceField(choices=())
    split = forms.CharField(required=False, help_text="Leave empty for every split of the dataset.")
    test_only = forms.BooleanField(
        required=False, help_text="Only the held-out problems of the train/test split (for evaluation)."
    )
    limit = forms.IntegerField(required=False, min_value=1, help_text="At most this many problems.")
    parameters_json = forms.CharField(
        label="Parameters", widget=forms.Textarea(attrs={"rows": 8, "cols": 60}), required=False,
        help_text="JSON; anything left out takes its default. Generation: "
        + json.dumps(jobs.GENERATION_DEFAULTS) + ". Fine-tuning: " + json.dumps(jobs.TRAINING_DEFAULTS),
    )

    class Meta:
        model = Job
        fields = ("kind", "checkpoint", "setting")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        datasets = Problem.objects.order_by().values_list("dataset", flat=True).distinct()
        self.fields["dataset"].choices = [(d, d) for d in datasets]

    def clean(self) -> dict:
        cleaned = super().clean()
        try:
            given = json.loads(cleaned.get("parameters_json") or "{}")
            if not isinstance(given, dict):
                raise jobs.JobError("Parameters must be a JSON object, e.g. {\"max_new_tokens\": 128}.")
            cleaned["parameters"] = jobs.clean_parameters(cleaned.get("kind", ""), given)
        except json.JSONDecodeError as error:
            self.add_error("parameters_json", f"Not valid JSON: {error}")
        except jobs.JobError as error:
            self.add_error("parameters_json", str(error))
        if "dataset" in cleaned:
            cleaned["problems"] = jobs.select_problems(
                cleaned["dataset"], cleaned.get("split", ""), test_only=cleaned.get("test_only", False),
                limit=cleaned.get("limit"),
            )
            if not cleaned["problems"].exists():
                self.add_error("split", "No problems match this choice.")
        return cleaned


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = (
        "id", "kind", "status", "progress", "checkpoint", "setting", "answer_accuracy",
        "p_answer_given_correct_trace", "created_at", "finished_at",
    )
    list_filter = ("kind", "status", "setting")
    actions = ["cancel_jobs", "rerun_jobs"]
    readonly_fields = (
        "kind", "status", "progress", "checkpoint", "setting", "parameters", "metrics_table", "log_text",
        "error", "attempts", "created_by", "created_at", "started_at", "finished_at", "problem_count",
    )
    exclude = ("problems", "log", "metrics", "progress_done", "progress_total", "cancel_requested")

    def get_form(self, request: HttpRequest, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = LaunchJobForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> tuple:
        return self.readonly_fields if obj is not None else ()

    def get_exclude(self, request: HttpRequest, obj=None):
        return self.exclude if obj is not None else None

    def get_fields(self, request: HttpRequest, obj=None):
        if obj is None:
            return (
                "kind", "checkpoint", "setting", "dataset", "split", "test_only", "limit", "parameters_json",
            )
        return self.readonly_fields

    def save_model(self, request: HttpRequest, obj: Job, form: forms.Form, change: bool) -> None:
        if change:
            return
        launched = jobs.launch(
            obj.kind, obj.checkpoint, form.cleaned_data["problems"], obj.setting,
            form.cleaned_data["parameters"], user=request.user,
        )
        obj.pk = launched.pk
        self.message_user(request, f"Launched {launched}: it runs on a GPU worker.", messages.SUCCESS)

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        """The job's problems were stored by jobs.launch."""

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    @admin.display(description="Progress")
    def progress(self, obj: Job) -> str:
        if not obj.progress_total:
            return "-"
        percent = round(100 * obj.progress_done / obj.progress_total)
        return format_html(
            '<progress max="100" value="{}"></progress> {} / {}',
            percent, obj.progress_done, obj.progress_total,
        )

    @admin.display(description="Answer accuracy")
    def answer_accuracy(self, obj: Job) -> str:
        return percent(obj.metrics.get("answer_accuracy"), "-")

    @admin.display(description="P(correct answer | correct trace)")
    def p_answer_given_correct_trace(self, obj: Job) -> str:
        return percent(obj.metrics.get("p_answer_given_correct_trace"), "-")

    @admin.display(description="Problems")
    def problem_count(self, obj: Job) -> int:
        return obj.problems.count()

    @admin.display(description="Log")
    def log_text(self, obj: Job) -> str:
        return format_html("<pre style='white-space: pre-wrap'>{}</pre>", obj.log or "-")

    @admin.display(description="Results")
    def metrics_table(self, obj: Job) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.metrics, indent=2)) if obj.metrics else "-"

    @admin.action(description="Cancel the selected jobs")
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, jobs.cancel, "cancelled (running jobs stop after their current step)")

    @admin.action(description="Re-run the selected failed or cancelled jobs")
    def rerun_jobs(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, jobs.rerun, "queued again")

    def _each(self, request: HttpRequest, queryset: QuerySet, operation, done: str) -> None:
        for job in queryset:
            try:
                operation(job)
            except jobs.JobError as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                self.message_user(request, f"Job #{job.pk} {done}.", messages.SUCCESS)


class MakeStimuliForm(forms.Form):
    study = forms.ModelChoiceField(queryset=Study.objects.all())
    condition = forms.ChoiceField(choices=ConditionCode.choices)


@admin.register(GeneratedTrace)
class GeneratedTraceAdmin(admin.ModelAdmin):
    list_display = (
        "problem", "job", "checkpoint", "answer_correct", "classification_correct", "retrieval_correct",
        "completion_tokens", "latency_ms",
    )
    list_filter = ("job", "checkpoint", "answer_correct", "classification_correct", "retrieval_correct")
    search_fields = ("problem__source_id", "raw_text")
    list_select_related = ("problem", "job", "checkpoint")
    actions = ["make_stimuli"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.action(description="Use the selected traces as study stimuli for a condition…")
    def make_stimuli(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        form = MakeStimuliForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            result = traces_to_stimuli(
                list(queryset.select_related("problem", "checkpoint")),
                form.cleaned_data["study"], form.cleaned_data["condition"],
            )
            self.message_user(
                request,
                f"{result.created} traces added and {result.updated} replaced in "
                f"{form.cleaned_data['study'].slug} / {form.cleaned_data['condition']}.",
                messages.SUCCESS,
            )
            if result.skipped_shown:
                self.message_user(
                    request,
                    "Left unchanged because participants have already rated them: "
                    + ", ".join(result.skipped_shown),
                    messages.WARNING,
                )
            return None
        context = {
            **self.admin_site.each_context(request), "form": form, "traces": queryset,
            "title": "Use traces as study stimuli", "opts": self.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return render(request, "admin/traces/generatedtrace/make_stimuli.html", context)

