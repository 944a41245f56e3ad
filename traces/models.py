"""QA problems and their train/test splits, model checkpoints, the jobs that train and run them, and
evaluations: model outputs, generated here or imported, graded under the paper's definitions."""

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
    subset = models.CharField(max_length=40, help_text="The CoTempQA relation or the bAbI task.")
    source_id = models.CharField(max_length=120, help_text="Stable id within the dataset.")
    question = models.TextField()
    facts = models.JSONField(help_text="The context, a list of sentences.")
    gold_answers = models.JSONField()
    metadata = models.JSONField(default=dict, blank=True)
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["dataset", "subset", "id"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "source_id"], name="problem_unique_source_id"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset}:{self.source_id}"

    def as_plain(self) -> loaders.Problem:
        """The plain dataclass the pure modules (decomposition, grading, sft) work on."""
        return loaders.Problem(
            dataset=self.dataset, subset=self.subset, source_id=self.source_id, question=self.question,
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
    """A model saved with save_pretrained in a local directory, or a LoRA adapter saved alone (loaded
    onto its ``base``); nothing is ever downloaded."""

    name = models.CharField(max_length=100, unique=True)
    path = models.CharField(
        max_length=500,
        help_text="Local directory written by save_pretrained (a model, or an adapter on its base).",
    )
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
        if (directory / "adapter_config.json").is_file():
            if self.base is None:
                raise ValidationError(
                    {"base": "An adapter is loaded onto a base: choose the checkpoint it was trained from."}
                )
        elif not (directory / "config.json").is_file():
            raise ValidationError({"path": "No config.json there: save the model with save_pretrained."})

    @property
    def is_adapter(self) -> bool:
        return (Path(self.path) / "adapter_config.json").is_file()

    def model_paths(self) -> tuple[str, str | None]:
        """(path, base path): what traces.modeling.load_model needs to load it."""
        return self.path, self.base.path if self.is_adapter and self.base is not None else None


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
        LOST = "lost", "Lost (its worker stopped)"

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
    queued_at = models.DateTimeField(null=True, blank=True, help_text="When it was last sent to the queue.")
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Last sign of life from the worker running it (every few seconds)."
    )
    worker = models.CharField(max_length=200, blank=True, help_text="Host and process running it.")
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
        return self.status in FINISHED


FINISHED = (Job.Status.SUCCEEDED, Job.Status.FAILED, Job.Status.CANCELLED, Job.Status.LOST)


class ProblemSplit(models.Model):
    """A named train/test split of a dataset's problems, stored once and used by every job.

    Which problems a model may be trained on and which it is tested on is a property of the
    problems, never re-derived from a job's seed: fine-tuning refuses problems on the test side of
    the split it keeps out, and evaluations read their test problems from here. The authors' split
    (``authors``) is imported with ``import_authors_data``; researchers make their own with
    ``create_split``.
    """

    dataset = models.CharField(max_length=40)
    name = models.CharField(max_length=60)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["dataset", "name"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "name"], name="problem_split_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset}:{self.name}"


class SplitMember(models.Model):
    """One problem's side in a split; ``position`` keeps the order of the split's files (the
    authors' step lookup reads test rows in that order)."""

    class Side(models.TextChoices):
        TRAIN = "train", "Train"
        TEST = "test", "Test"

    split = models.ForeignKey(ProblemSplit, on_delete=models.CASCADE, related_name="members")
    problem = models.ForeignKey(Problem, on_delete=models.CASCADE, related_name="split_memberships")
    side = models.CharField(max_length=5, choices=Side.choices)
    position = models.PositiveIntegerField()

    class Meta:
        ordering = ["split", "side", "position"]
        constraints = [
            models.UniqueConstraint(fields=["split", "problem"], name="split_member_unique_problem"),
        ]
        indexes = [models.Index(fields=["split", "side", "position"])]

    def __str__(self) -> str:
        return f"{self.split} / {self.side} / {self.problem}"


#: Bumped when a grading definition changes: outputs graded under an older version are re-graded
#: (``regrade_outputs``) before they count in a table.
GRADING_VERSION = 2


class Evaluation(models.Model):
    """One model's outputs on a set of problems, in one setting: made by a job here, or imported
    from a file of outputs made anywhere (a cluster, vLLM, an API, the paper authors' runs)."""

    class Source(models.TextChoices):
        JOB = "job", "Generated by a job here"
        IMPORT = "import", "Imported from a file"

    model_name = models.CharField(max_length=200)
    setting = models.CharField(max_length=30, choices=Setting.choices)
    dataset = models.CharField(max_length=40)
    subset = models.CharField(
        max_length=40, blank=True, help_text="The relation given at import; empty: each problem's own."
    )
    split = models.ForeignKey(
        ProblemSplit, on_delete=models.SET_NULL, null=True, blank=True, related_name="evaluations",
        help_text="The split whose test problems the published step lookup reads.",
    )
    source = models.CharField(max_length=10, choices=Source.choices)
    job = models.OneToOneField(
        Job, on_delete=models.PROTECT, null=True, blank=True, related_name="evaluation"
    )
    file_name = models.CharField(max_length=300, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, help_text="Of the imported file.")
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    details = models.JSONField(
        default=dict, blank=True, help_text="Prompt style, generation settings, the file's format."
    )
    grading_version = models.PositiveIntegerField(default=GRADING_VERSION)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        subset = f":{self.subset}" if self.subset else ""
        return f"{self.model_name} / {self.setting} / {self.dataset}{subset}"


class ModelOutput(models.Model):
    """One model output for one problem with its grades under each definition (see
    ``traces.grading``): the paper's answer metric, and the classification and retrieval steps as
    the authors' scripts published them, as they intended them, and by the project's strict rule.
    """

    evaluation = models.ForeignKey(Evaluation, on_delete=models.CASCADE, related_name="outputs")
    problem = models.ForeignKey(Problem, on_delete=models.PROTECT, related_name="model_outputs")
    position = models.PositiveIntegerField(help_text="Line of the imported file, or order in the job.")
    prompt = models.TextField(blank=True, help_text="The prompt as the model saw it, when known.")
    raw_text = models.TextField()
    # None, not "", when a step is missing from the output: the difference matters to the analysis.
    relation = models.TextField(null=True, blank=True, help_text="Parsed classification step.")  # noqa: DJ001
    retrieved_facts = models.JSONField(null=True, blank=True, help_text="Parsed retrieval step.")
    answer = models.TextField(null=True, blank=True, help_text="Parsed final answer.")  # noqa: DJ001
    answer_correct = models.BooleanField(help_text="The paper's answer metric: exact match of answer sets.")
    answer_f1 = models.FloatField()
    answer_precision = models.FloatField()
    answer_recall = models.FloatField()
    predicted_answers = models.JSONField(default=list, blank=True)
    answer_correct_strict = models.BooleanField(
        help_text="The paper's metric with candidate entities of the asked type."
    )
    unevaluated = models.BooleanField(help_text="No trace to grade (no 'think' in the output).")
    classification_published = models.BooleanField()
    retrieval_published = models.BooleanField()
    classification_authors = models.BooleanField()
    retrieval_authors = models.BooleanField()
    classification_strict = models.BooleanField()
    retrieval_strict = models.BooleanField()
    published_row = models.ForeignKey(
        Problem, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        help_text="The test row the authors' published lookup graded this output against.",
    )
    grade_notes = models.JSONField(default=list, blank=True, help_text="Why a step is missing or wrong.")
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True, help_text="Of the batch it was in.")
    generation_settings = models.JSONField(
        default=dict, blank=True, help_text="The decoding settings it was generated with (from a job)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["evaluation", "position"]
        constraints = [
            models.UniqueConstraint(fields=["evaluation", "problem"], name="model_output_unique_problem"),
        ]

    def __str__(self) -> str:
        return f"evaluation {self.evaluation_id} / {self.problem}"
