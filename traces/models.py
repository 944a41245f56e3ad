"""QA problems, model checkpoints, the jobs that train and run them, and the traces they generate."""

from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from . import loaders


class Setting(models.TextChoices):
    """The six fine-tuning settings of the paper (what the assistant learns to write)."""

    VANILLA = "vanilla", "No trace (answer only)"
    DECOMPOSITION_CORRECT = "decomposition_correct", "Correct decomposition trace"
    DECOMPOSITION_INCORRECT = "decomposition_incorrect", "Incorrect decomposition trace"
    R1 = "r1", "DeepSeek-R1 trace"
    R1_SUMMARY = "r1_summary", "Summary of the R1 trace"
    POSTHOC = "posthoc", "Post-hoc explanation"


class Problem(models.Model):
    dataset = models.CharField(max_length=40, help_text="e.g. cotempqa, babi")
    split = models.CharField(max_length=40, help_text="The CoTempQA relation or the bAbI task.")
    source_id = models.CharField(max_length=120, help_text="Stable id within the dataset.")
    question = models.TextField()
    facts = models.JSONField(help_text="The context, a list of sentences.")
    gold_answers = models.JSONField()
    metadata = models.JSONField(default=dict, blank=True)
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["dataset", "split", "id"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "source_id"], name="problem_unique_source_id"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset}:{self.source_id}"

    def as_plain(self) -> loaders.Problem:
        """The plain dataclass the pure modules (decomposition, grading, sft) work on."""
        return loaders.Problem(
            dataset=self.dataset, split=self.split, source_id=self.source_id, question=self.question,
            facts=list(self.facts), gold_answers=list(self.gold_answers), metadata=dict(self.metadata),
        )


class ReferenceTrace(models.Model):
    """A published trace for a problem (R1, its summary, a post-hoc explanation), for fine-tuning."""

    class Kind(models.TextChoices):
        R1 = "r1", "DeepSeek-R1 trace"
        R1_SUMMARY = "r1_summary", "Summary of the R1 trace"
        POSTHOC = "posthoc", "Post-hoc explanation"

    problem = models.ForeignKey(Problem, on_delete=models.CASCADE, related_name="reference_traces")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    text = models.TextField()
    source = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["problem", "kind"], name="reference_trace_unique_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.problem} / {self.kind}"


class Checkpoint(models.Model):
    """A model saved with save_pretrained in a local directory; nothing is ever downloaded."""

    name = models.CharField(max_length=100, unique=True)
    path = models.CharField(max_length=500, help_text="Local directory written by save_pretrained.")
    base = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="derived",
        help_text="The checkpoint this one was fine-tuned from.",
    )
    made_by = models.ForeignKey(
        "Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="checkpoints_made"
    )
    setting = models.CharField(
        max_length=30, choices=Setting.choices, blank=True, help_text="What it was fine-tuned on."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        directory = Path(self.path)
        if not directory.is_dir():
            raise ValidationError({"path": f"No directory at {self.path} on this machine."})
        if not (directory / "config.json").is_file():
            raise ValidationError({"path": "No config.json there: save the model with save_pretrained."})


class Job(models.Model):
    class Kind(models.TextChoices):
        FINETUNE = "finetune", "Fine-tune"
        GENERATE = "generate", "Generate traces"
        EVALUATE = "evaluate", "Evaluate"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    checkpoint = models.ForeignKey(Checkpoint, on_delete=models.PROTECT, related_name="jobs")
    setting = models.CharField(
        max_length=30, choices=Setting.choices,
        help_text="Fine-tune: what to train on. Generate and evaluate: the setting the checkpoint was "
        "trained on, for the results tables.",
    )
    problems = models.ManyToManyField(Problem, related_name="jobs")
    parameters = models.JSONField(default=dict, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    log = models.TextField(blank=True)
    error = models.TextField(blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    cancel_requested = models.BooleanField(default=False)
    attempts = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED, self.Status.CANCELLED)


class GeneratedTrace(models.Model):
    """One model output for one problem, with its parse and grades. One per (job, problem)."""

    job = models.ForeignKey(Job, on_delete=models.PROTECT, related_name="traces")
    problem = models.ForeignKey(Problem, on_delete=models.PROTECT, related_name="generated_traces")
    checkpoint = models.ForeignKey(Checkpoint, on_delete=models.PROTECT, related_name="generated_traces")
    prompt = models.TextField()
    raw_text = models.TextField()
    # None, not "", when a step is missing from the output: the difference matters to the analysis.
    relation = models.TextField(null=True, blank=True, help_text="Parsed classification step.")  # noqa: DJ001
    retrieved_facts = models.JSONField(null=True, blank=True, help_text="Parsed retrieval step.")
    answer = models.TextField(null=True, blank=True, help_text="Parsed final answer.")  # noqa: DJ001
    answer_correct = models.BooleanField()
    classification_correct = models.BooleanField()
    retrieval_correct = models.BooleanField()
    grade_notes = models.JSONField(default=list, blank=True, help_text="Why a step is missing or wrong.")
    prompt_tokens = models.PositiveIntegerField()
    completion_tokens = models.PositiveIntegerField()
    latency_ms = models.PositiveIntegerField(help_text="Wall time of the batch this output was in.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["job", "problem"]
        constraints = [
            models.UniqueConstraint(fields=["job", "problem"], name="generated_trace_unique_per_job"),
        ]

    def __str__(self) -> str:
        return f"job {self.job_id} / {self.problem}"

    @property
    def trace_correct(self) -> bool:
        return self.classification_correct and self.retrieval_correct
