"""Admin for problems, splits, checkpoints, endpoints, jobs, reference traces and evaluations: import
data and outputs, launch and watch jobs. (A study's stimuli are built from traces on the study side.)"""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.html import format_html
from django.utils.text import Truncator

from . import jobs, loaders, splits
from .evaluations import EvaluationError, import_outputs, regrade
from .grading.table import percent
from .importing import import_authors_traces, import_problems
from .models import (
    TRACE_JOB_KINDS,
    Checkpoint,
    Endpoint,
    Evaluation,
    Job,
    ModelOutput,
    Problem,
    ProblemSplit,
    ReferenceTrace,
    Setting,
    SplitMember,
)


class ImportProblemsForm(forms.Form):
    format = forms.ChoiceField(choices=[(name, name) for name in sorted(loaders.LOADERS)])
    subset = forms.CharField(
        help_text="CoTempQA: the relation (equal, overlap, mix, during). bAbI (Hugging Face): the task. "
        "bAbI (the authors' CSV, whose rows name their task): a name for the file, e.g. test. MS MARCO "
        "(v1.1 or v2.1, gzipped or not; each query names its type): a name for the file, e.g. dev."
    )
    file = forms.FileField(
        help_text="JSON Lines (CSV for the authors' formats), one problem a line; MS MARCO v2.1: its one "
        "JSON object."
    )


@admin.register(Problem)
class ProblemAdmin(admin.ModelAdmin):
    list_display = ("source_id", "dataset", "subset", "question")
    list_filter = ("dataset", "subset")
    search_fields = ("source_id", "question")
    change_list_template = "admin/traces/problem/change_list.html"

    def get_urls(self) -> list:
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="traces_problem_import"),
            *super().get_urls(),
        ]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """Upload a data file; a malformed one is refused whole, naming the line."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ImportProblemsForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                result = import_problems(
                    form.cleaned_data["format"], form.cleaned_data["file"], form.cleaned_data["subset"]
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


class ImportTracesForm(forms.Form):
    kind = forms.ChoiceField(
        choices=ReferenceTrace.Kind.choices, help_text="What the file's reasoning column holds."
    )
    source = forms.CharField(required=False, help_text="A label for these traces; empty: the file's name.")
    file = forms.FileField(help_text="CSV with columns question, reasoning, answer.")


@admin.register(ReferenceTrace)
class ReferenceTraceAdmin(admin.ModelAdmin):
    """Traces made here (with their job, model and prompt) or imported; read-only: a trace is evidence."""

    list_display = ("problem", "kind", "source", "model_name", "answer_start", "answer_correct", "created_at")
    list_filter = ("kind", "source", "model_name", "answer_correct")
    search_fields = ("problem__source_id", "text", "source", "model_name")
    list_select_related = ("problem",)
    readonly_fields = ("problem", "kind", "text", "answer", "answer_correct", "source", "job", "model_name",
                       "prompt_turns", "based_on", "details", "created_at")
    exclude = ("prompt",)
    change_list_template = "admin/traces/referencetrace/change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # traces come from jobs and imports (import_view)

    def get_urls(self) -> list:
        return [
            path("import/", self.admin_site.admin_view(self.import_view),
                 name="traces_referencetrace_import"),
            *super().get_urls(),
        ]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """Upload one of the authors' trace CSVs; refused whole, with the reason, or imported."""
        if not request.user.has_perm("traces.add_referencetrace"):
            raise PermissionDenied
        form = ImportTracesForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                label = data["source"] or data["file"].name
                result = import_authors_traces(data["file"], data["kind"], label)
            except (loaders.LoadError, ValueError) as error:
                form.add_error("file", f"Nothing was imported. {error}")
            else:
                self.message_user(request, f"Imported {result.created} traces ({result.already_there} were "
                                           "already there).", messages.SUCCESS)
                return redirect("admin:traces_referencetrace_changelist")
        context = {**self.admin_site.each_context(request), "form": form,
                   "title": "Import the authors' traces", "opts": self.model._meta}
        status = 400 if form.errors else 200
        return render(request, "admin/traces/referencetrace/import.html", context, status=status)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="Answer")
    def answer_start(self, obj: ReferenceTrace) -> str:
        return Truncator(obj.answer).chars(60) or "-"

    @admin.display(description="Prompt (the chat the model was given)")
    def prompt_turns(self, obj: ReferenceTrace) -> str:
        text = "\n\n".join(f"[{turn.get('role')}]\n{turn.get('content')}" for turn in obj.prompt or [])
        return format_html("<pre style='white-space: pre-wrap'>{}</pre>", text or "-")


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    """OpenAI-compatible servers; the key stays in the workers' environment, under the variable named."""

    list_display = (
        "name", "base_url", "model", "api_key_env", "max_concurrency", "max_retries", "created_at",
    )


class SplitForm(forms.ModelForm):
    """A new split drawn at random (reproducibly, from the seed); stored splits are not edited."""

    test_fraction = forms.FloatField(min_value=0.01, max_value=0.99, initial=0.2)
    seed = forms.IntegerField(initial=0)
    subset = forms.CharField(
        required=False, help_text="Draw from one relation, task or query type only; empty: all."
    )

    class Meta:
        model = ProblemSplit
        fields = ("dataset", "name")

    def clean(self) -> dict:
        cleaned = super().clean()
        if not self.errors:
            try:
                splits.draw_sides(
                    cleaned["dataset"], cleaned["name"], test_fraction=cleaned["test_fraction"],
                    seed=cleaned["seed"], subset=cleaned["subset"],
                )
            except splits.SplitError as error:
                raise forms.ValidationError(str(error)) from error
        return cleaned


@admin.register(ProblemSplit)
class ProblemSplitAdmin(admin.ModelAdmin):
    list_display = ("name", "dataset", "train", "test", "description", "created_at")
    list_filter = ("dataset",)
    readonly_fields = ("dataset", "name", "description", "created_by", "created_at", "train", "test")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        side = SplitMember.Side
        return super().get_queryset(request).annotate(
            n_train=Count("members", filter=Q(members__side=side.TRAIN)),
            n_test=Count("members", filter=Q(members__side=side.TEST)),
        )

    @admin.display(description="Train problems", ordering="n_train")
    def train(self, obj: ProblemSplit) -> int:
        return obj.n_train

    @admin.display(description="Test problems", ordering="n_test")
    def test(self, obj: ProblemSplit) -> int:
        return obj.n_test

    def get_form(self, request: HttpRequest, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = SplitForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request: HttpRequest, obj=None):
        return ("dataset", "name", "test_fraction", "seed", "subset") if obj is None else self.readonly_fields

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> tuple:
        return self.readonly_fields if obj is not None else ()

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: ProblemSplit, form: forms.Form, change: bool) -> None:
        data = form.cleaned_data
        made = splits.create_random_split(
            data["dataset"], data["name"], test_fraction=data["test_fraction"], seed=data["seed"],
            subset=data["subset"], user=request.user,
        )
        obj.pk = made.pk


@admin.register(Checkpoint)
class CheckpointAdmin(admin.ModelAdmin):
    list_display = ("name", "path", "base", "setting", "made_by", "created_at")
    list_filter = ("setting",)
    readonly_fields = ("made_by", "created_at")


class LaunchJobForm(forms.ModelForm):
    """Choose the model (a checkpoint or an endpoint), problems, setting and parameters; saving launches
    the job."""

    dataset = forms.ChoiceField(choices=())
    subset = forms.CharField(
        required=False,
        help_text="The CoTempQA relation, bAbI task or MS MARCO query type; empty for all of the dataset."
    )
    split = forms.CharField(
        required=False, initial="authors",
        help_text="Choose the problems from one side of this stored split (empty: all problems). It is "
        "also the split the job keeps out of fine-tuning and grades against, unless the parameters name one.",
    )
    side = forms.ChoiceField(
        choices=SplitMember.Side.choices, initial=SplitMember.Side.TEST,
        help_text="Evaluate on the test side; fine-tune on the train side.",
    )
    limit = forms.IntegerField(required=False, min_value=1, help_text="At most this many problems.")
    per_subset = forms.IntegerField(
        label="Per relation or task", required=False, min_value=1,
        help_text="Instead of a limit: this many problems of each relation (bAbI: task; MS MARCO: query "
        "type), drawn at random "
        "from the draw seed, so the job is balanced over them.",
    )
    draw_seed = forms.IntegerField(label="Draw seed", required=False, initial=0, min_value=0)
    problems_of_job = forms.IntegerField(
        label="Problems of job", required=False, min_value=1,
        help_text="Exactly the problems of this earlier job (e.g. summaries of the traces it made).",
    )
    parameters_json = forms.CharField(
        label="Parameters", widget=forms.Textarea(attrs={"rows": 8, "cols": 60}), required=False,
        help_text="JSON; anything left out takes its default. Generation: "
        + json.dumps(jobs.GENERATION_DEFAULTS) + ". Fine-tuning: " + json.dumps(jobs.TRAINING_DEFAULTS)
        + ". Trace jobs: " + "; ".join(f"{kind}: {json.dumps(d)}" for kind, d in jobs.TRACE_DEFAULTS.items())
        + ". prompt_style 'authors' writes prompts as the paper's authors did (facts as a Python list, "
        "their system message for the model's family); 'split' is the stored split a fine-tune keeps "
        "out and whose test problems the published step lookup reads; 'traces_from' chooses whose "
        "traces to learn from, summarise or explain when there are several.",
    )

    class Meta:
        model = Job
        fields = ("kind", "checkpoint", "endpoint", "setting")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        datasets = Problem.objects.order_by().values_list("dataset", flat=True).distinct()
        self.fields["dataset"].choices = [(d, d) for d in datasets]
        self.fields["setting"].required = False

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("kind") in TRACE_JOB_KINDS:
            cleaned["setting"] = TRACE_JOB_KINDS[cleaned["kind"]]
        elif not cleaned.get("setting"):
            self.add_error("setting", "Choose the setting: what the model was (or is to be) fine-tuned on.")
        try:
            given = json.loads(cleaned.get("parameters_json") or "{}")
            if not isinstance(given, dict):
                raise jobs.JobError("Parameters must be a JSON object, e.g. {\"max_new_tokens\": 128}.")
            given = jobs.keep_out_split(cleaned.get("kind", ""), given, cleaned.get("split", ""))
            cleaned["parameters"] = jobs.clean_parameters(cleaned.get("kind", ""), given)
        except json.JSONDecodeError as error:
            self.add_error("parameters_json", f"Not valid JSON: {error}")
        except jobs.JobError as error:
            self.add_error("parameters_json", str(error))
        if "dataset" in cleaned:
            try:
                cleaned["problems"] = jobs.select_problems(
                    cleaned["dataset"], cleaned.get("subset", ""), split=cleaned.get("split", ""),
                    side=cleaned.get("side", ""), limit=cleaned.get("limit"),
                    per_subset=cleaned.get("per_subset"), seed=cleaned.get("draw_seed") or 0,
                    of_job=cleaned.get("problems_of_job"),
                )
            except splits.SplitError as error:
                self.add_error("split", str(error))
            except jobs.JobError as error:
                self.add_error(None, str(error))
            else:
                if not cleaned["problems"].exists():
                    self.add_error("subset", "No problems match this choice.")
        if not self.errors:
            try:
                jobs.check_launch(
                    cleaned["kind"], cleaned.get("checkpoint"), list(cleaned["problems"]), cleaned["setting"],
                    cleaned["parameters"], endpoint=cleaned.get("endpoint"),
                )
                jobs.check_queue()  # a queue that does not answer: say so here, store nothing
            except jobs.JobError as error:
                self.add_error(None, str(error))
        return cleaned


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "status", "progress", "model", "setting", "answer_em", "created_at",
                    "finished_at")
    list_filter = ("kind", "status", "setting")
    actions = ["cancel_jobs", "rerun_jobs"]
    readonly_fields = (
        "kind", "status", "progress", "checkpoint", "endpoint", "setting", "parameters", "metrics_table",
        "log_text",
        "error", "attempts", "worker", "heartbeat_at", "queued_at", "created_by", "created_at", "started_at",
        "finished_at", "problem_count",
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
            return ("kind", "checkpoint", "endpoint", "setting", "dataset", "subset", "split", "side",
                    "limit", "per_subset", "draw_seed", "problems_of_job", "parameters_json")
        return self.readonly_fields

    def save_model(self, request: HttpRequest, obj: Job, form: forms.Form, change: bool) -> None:
        if change:
            return
        launched = jobs.launch(
            obj.kind, obj.checkpoint, form.cleaned_data["problems"], form.cleaned_data["setting"],
            form.cleaned_data["parameters"], user=request.user, endpoint=obj.endpoint,
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

    @admin.display(description="Model")
    def model(self, obj: Job) -> str:
        return str(obj.checkpoint or obj.endpoint)

    @admin.display(description="Answer exact match")
    def answer_em(self, obj: Job) -> str:
        value = obj.metrics.get("overall", {}).get("answer_em")
        return percent(None if value is None else value / 100, "-")

    @admin.display(description="Problems")
    def problem_count(self, obj: Job) -> int:
        return obj.problems.count()

    @admin.display(description="Log")
    def log_text(self, obj: Job) -> str:
        return format_html("<pre style='white-space: pre-wrap'>{}</pre>", obj.log or "-")

    @admin.display(description="Results")
    def metrics_table(self, obj: Job) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.metrics, indent=2)) if obj.metrics else "-"

    @admin.action(description="Cancel the selected jobs", permissions=["change"])
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, jobs.cancel, "cancelled (running jobs stop after their current step)")

    @admin.action(description="Re-run the selected failed, cancelled or lost jobs (they resume)",
                  permissions=["change"])
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


class ImportOutputsForm(forms.Form):
    file = forms.FileField(
        help_text="JSON Lines of outputs (the authors' format, or id/question+facts and prediction)."
    )
    dataset = forms.ChoiceField(choices=())
    subset = forms.CharField(
        required=False, help_text="CoTempQA: the relation the file holds (equal, overlap, mix, during). "
        "bAbI, MS MARCO: leave empty (each line names its task or query type).",
    )
    model_name = forms.CharField(max_length=200, help_text="e.g. Llama-3.2-1B-Instruct (QLoRA, authors)")
    setting = forms.ChoiceField(choices=Setting.choices)
    split = forms.CharField(
        required=False, initial="authors",
        help_text="The stored split whose test problems the published step lookup reads.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        datasets = Problem.objects.order_by().values_list("dataset", flat=True).distinct()
        self.fields["dataset"].choices = [(d, d) for d in datasets]


@admin.register(Evaluation)
class EvaluationAdmin(admin.ModelAdmin):
    list_display = ("id", "model_name", "setting", "dataset", "subset", "source", "outputs", "answer_em",
                    "created_at")
    list_filter = ("dataset", "setting", "source", "model_name")
    search_fields = ("model_name", "file_name", "sha256")
    fields = ("model_name", "setting", "dataset", "subset", "split", "source", "job", "file_name", "sha256",
              "imported_by", "created_at", "grading_version", "details", "outputs", "answer_em")
    readonly_fields = ("setting", "dataset", "subset", "split", "source", "job", "file_name", "sha256",
                       "imported_by", "created_at", "grading_version", "details", "outputs", "answer_em")
    change_list_template = "admin/traces/evaluation/change_list.html"
    actions = ["regrade_evaluations"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(
            n_outputs=Count("outputs"), n_right=Count("outputs", filter=Q(outputs__answer_correct=True))
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # evaluations come from jobs and from imported files (import_view)

    def get_urls(self) -> list:
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="traces_evaluation_import"),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        can_import = request.user.has_perm("traces.add_evaluation")
        return super().changelist_view(request, {**(extra_context or {}), "can_import": can_import})

    @admin.display(description="Outputs", ordering="n_outputs")
    def outputs(self, obj: Evaluation) -> int:
        return obj.n_outputs

    @admin.display(description="Answer exact match")
    def answer_em(self, obj: Evaluation) -> str:
        return percent(obj.n_right / obj.n_outputs if obj.n_outputs else None, "-")

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """Upload a file of outputs; it is stored as an evaluation, graded, or refused whole."""
        if not request.user.has_perm("traces.add_evaluation"):
            raise PermissionDenied
        form = ImportOutputsForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                evaluation = import_outputs(
                    data["file"], dataset=data["dataset"], model_name=data["model_name"],
                    setting=data["setting"], subset=data["subset"], split_name=data["split"],
                    file_name=data["file"].name, user=request.user,
                )
            except (loaders.LoadError, EvaluationError, splits.SplitError) as error:
                form.add_error("file", f"Nothing was imported. {error}")
            else:
                self.message_user(
                    request, f"Imported {evaluation.outputs.count()} outputs as evaluation #{evaluation.pk} "
                    f"({evaluation}).", messages.SUCCESS,
                )
                return redirect("admin:traces_evaluation_change", evaluation.pk)
        context = {**self.admin_site.each_context(request), "form": form, "title": "Import model outputs",
                   "opts": self.model._meta}
        status = 400 if form.errors else 200
        return render(request, "admin/traces/evaluation/import.html", context, status=status)

    @admin.action(description="Grade the selected evaluations' outputs again", permissions=["change"])
    def regrade_evaluations(self, request: HttpRequest, queryset: QuerySet) -> None:
        for evaluation in queryset:
            n = regrade(evaluation)
            message = f"Evaluation #{evaluation.pk}: {n} outputs graded again."
            self.message_user(request, message, messages.SUCCESS)


@admin.register(ModelOutput)
class ModelOutputAdmin(admin.ModelAdmin):
    list_display = (
        "problem", "evaluation", "answer_correct", "answer_correct_strict", "unevaluated",
        "classification_published", "retrieval_published", "classification_authors", "retrieval_authors",
        "classification_strict", "retrieval_strict",
    )
    list_filter = ("evaluation", "answer_correct", "unevaluated", "retrieval_published", "retrieval_authors",
                   "retrieval_strict")
    search_fields = ("problem__source_id", "raw_text")
    list_select_related = ("problem", "evaluation")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
