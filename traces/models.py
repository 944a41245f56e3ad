"""QA problems and their train/test splits, model checkpoints and OpenAI-compatible endpoints, the jobs
that train and run them, reference traces (reasoning traces, summaries, post-hoc explanations) made
here or imported, and evaluations: model outputs, generated here or imported, graded under the
paper's definitions."""

import re
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

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


_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HOST_RE = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.?)+$")


def validate_base_url(value: str) -> None:
    """An http(s) URL with a host; unlike Django's URLValidator, a cluster's single-label host name
    (``http://gpu-node-3:8000/v1``) is accepted, as the servers jobs run on are often named so."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 -- a port out of range raises here
    except ValueError as error:
        raise ValidationError(f"Not a URL: {error}.") from None
    if parts.username or parts.password:
        raise ValidationError(
            "Leave credentials out of the URL (they would be stored): name the key's environment variable."
        )
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not (_HOST_RE.match(host) or ":" in host) or " " in value:
        raise ValidationError(
            "Enter the server's http(s) URL up to /v1, e.g. http://gpu-node-3:8000/v1 or "
            "https://api.deepseek.com/v1."
        )


class Endpoint(models.Model):
    """An OpenAI-compatible chat server (vLLM, SGLang, ``transformers serve``, DeepSeek's or OpenAI's
    API) that jobs can run on instead of a local checkpoint. The API key is never stored: the
    workers read it from the environment variable named here."""

    name = models.CharField(max_length=100, unique=True)
    base_url = models.CharField(
        max_length=500, validators=[validate_base_url],
        help_text="Up to /v1, e.g. http://gpu-node-3:8000/v1 or https://api.deepseek.com/v1.",
    )
    model = models.CharField(
        max_length=200, help_text="The model name the server knows, e.g. deepseek-reasoner."
    )
    api_key_env = models.CharField(
        "API key variable", max_length=100, blank=True,
        help_text="The NAME of the environment variable that holds the key on the workers (e.g. "
        "DEEPSEEK_API_KEY), never the key itself. Empty: no key (a local server).",
    )
    max_concurrency = models.PositiveSmallIntegerField(
        default=8, validators=[MinValueValidator(1), MaxValueValidator(512)],
        help_text="At most this many requests in flight at once.",
    )
    max_retries = models.PositiveSmallIntegerField(
        default=8, validators=[MaxValueValidator(50)],
        help_text="Retries of a request on rate limits, server errors and lost connections, with "
        "exponential back-off (0.5 s doubling up to 8 s, or the server's Retry-After).",
    )
    timeout_s = models.PositiveIntegerField(
        default=900, validators=[MinValueValidator(1)], help_text="Seconds one request may take."
    )
    extra_body = models.JSONField(
        default=dict, blank=True,
        help_text='Sent with every request, e.g. {"chat_template_kwargs": {"enable_thinking": true}} '
        "for vLLM.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.model})"

    def clean(self) -> None:
        if self.api_key_env and not _ENV_NAME_RE.match(self.api_key_env):
            raise ValidationError({"api_key_env": (
                "Give the name of an environment variable (letters, digits and _), not a key: the key "
                "stays out of the database, in that variable on the workers."
            )})
        if not isinstance(self.extra_body, dict):
            raise ValidationError({"extra_body": "Must be a JSON object."})


class Job(models.Model):
    class Kind(models.TextChoices):
        FINETUNE = "finetune", "Fine-tune"
        GENERATE = "generate", "Generate traces"
        EVALUATE = "evaluate", "Evaluate"
        REASONING = "reasoning", "Reasoning traces (R1-style)"
        SUMMARY = "summary", "Summaries of reasoning traces"
        EXPLANATION = "explanation", "Post-hoc explanations"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        LOST = "lost", "Lost (its worker stopped)"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    checkpoint = models.ForeignKey(
        Checkpoint, on_delete=models.PROTECT, null=True, blank=True, related_name="jobs",
        help_text="A local model run on a GPU worker; or choose an endpoint.",
    )
    endpoint = models.ForeignKey(
        Endpoint, on_delete=models.PROTECT, null=True, blank=True, related_name="jobs",
        help_text="An OpenAI-compatible server the worker sends the requests to.",
    )
    setting = models.CharField(
        max_length=30, choices=Setting.choices,
        help_text="Fine-tune: what to train on. Generate and evaluate: the setting the checkpoint was "
        "trained on, for the results tables. Trace jobs: leave it empty; it is the kind of trace they make.",
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
        constraints = [
            models.CheckConstraint(
                condition=Q(checkpoint__isnull=True) ^ Q(endpoint__isnull=True), name="job_one_model_source",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @property
    def model_name(self) -> str:
        """The model the job runs: the checkpoint's name, or the endpoint's model."""
        return self.checkpoint.name if self.checkpoint_id else self.endpoint.model


FINISHED = (Job.Status.SUCCEEDED, Job.Status.FAILED, Job.Status.CANCELLED, Job.Status.LOST)
#: Job kinds that make reference traces, and the kind of trace each makes.
TRACE_JOB_KINDS = {
    Job.Kind.REASONING: "r1", Job.Kind.SUMMARY: "r1_summary", Job.Kind.EXPLANATION: "posthoc",
}


class ReferenceTrace(models.Model):
    """A trace of one problem a study condition can show and a fine-tune can learn from: a reasoning
    model's reasoning (R1), a summary of one, or a post-hoc explanation of an answer. Made by a job
    here (with the job, model and exact prompt) or imported from published files (``source``)."""

    class Kind(models.TextChoices):
        R1 = "r1", "Reasoning trace (DeepSeek-R1 style)"
        R1_SUMMARY = "r1_summary", "Summary of a reasoning trace"
        POSTHOC = "posthoc", "Post-hoc explanation"

    problem = models.ForeignKey(Problem, on_delete=models.CASCADE, related_name="reference_traces")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    text = models.TextField(blank=True, help_text="The trace; empty when the model gave no reasoning.")
    answer = models.TextField(
        blank=True,
        help_text="The final answer: the model's own (reasoning), the one summarised or explained.",
    )
    answer_correct = models.BooleanField(
        null=True, blank=True, help_text="The answer under the paper's answer metric; empty when unknown."
    )
    source = models.CharField(max_length=300, blank=True, help_text="A job (job #N) or the imported file.")
    job = models.ForeignKey(
        Job, on_delete=models.PROTECT, null=True, blank=True, related_name="reference_traces"
    )
    model_name = models.CharField(max_length=200, blank=True, help_text="The model that wrote it.")
    prompt = models.JSONField(default=list, blank=True, help_text="The chat turns the model was given.")
    based_on = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="derived",
        help_text="The reasoning trace a summary or explanation was made from.",
    )
    details = models.JSONField(
        default=dict, blank=True,
        help_text="Decoding settings, endpoint, token counts, latency, what the model said besides "
        "the trace.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["problem", "kind", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "problem"], condition=Q(job__isnull=False), name="reference_trace_one_per_job",
            ),
            models.UniqueConstraint(
                fields=["problem", "kind", "source"], condition=Q(job__isnull=True),
                name="reference_trace_one_per_source",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.problem} / {self.kind} / {self.source}"


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
GRADING_VERSION = 3


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
