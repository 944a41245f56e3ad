"""A study's stimuli drawn from one model's graded outputs (``traces.ModelOutput``), for studies whose
ground truth is the model's own: verification (was the answer right?) and simulation (which answer
will it give?).

A stimulus is one output: its problem, the model's short answer as shown, the output's grades under
every definition (``Stimulus.grades``, with the evaluation they come from), and the output's own text
in every condition of the kind the outputs are (a decomposition setting's outputs are decomposition
traces, an ``r1`` setting's reasoning traces, ...). A condition of another kind of text would show a
different model's reasoning beside this model's answer, so the build refuses it; a condition that
shows the answer alone gets no text, and imported conditions are left to the study file or the admin.

The draw is balanced over the ground truth under the study's definition: as many right as wrong
answers, or, for decomposition traces, as many in each cell of correct or incorrect trace x right or
wrong answer (the paper: correct traces and right answers go together far less often than one
expects); within a cell as evenly over relations (or bAbI tasks) as they allow. Where several
evaluations of the model and setting hold the same problem, the newest one's output counts, as in
the model table (``traces.evaluations.graded_records``).
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count

from traces.candidates import answer_candidates
from traces.grading.parsing import short_answer
from traces.models import ModelOutput, Setting

from . import simulation_texts
from .models import Stimulus, StimulusTrace, Study, TraceKind, TrialTask, several_candidates
from .stimulus_builder import BuildError, BuildResult, answered, draw_balanced

#: The kind of condition text a setting's outputs are; "vanilla" outputs hold no trace.
OUTPUT_KIND = {
    Setting.DECOMPOSITION_CORRECT: TraceKind.DECOMPOSITION,
    Setting.DECOMPOSITION_INCORRECT: TraceKind.DECOMPOSITION,
    Setting.R1: TraceKind.REASONING,
    Setting.R1_SUMMARY: TraceKind.SUMMARY,
    Setting.POSTHOC: TraceKind.EXPLANATION,
}

#: Stimulus grade -> the ModelOutput field it is read from (the authors' checks are the "intended" steps).
GRADE_FIELDS = {
    "answer_strict": "answer_correct_strict",
    "answer_published": "answer_correct",
    "classification_strict": "classification_strict",
    "retrieval_strict": "retrieval_strict",
    "classification_published": "classification_published",
    "retrieval_published": "retrieval_published",
    "classification_intended": "classification_authors",
    "retrieval_intended": "retrieval_authors",
}


@dataclass(frozen=True)
class OutputGroup:
    """The outputs of one model in one setting on one dataset: what a build draws from."""

    model_name: str
    setting: str
    dataset: str
    outputs: int

    @property
    def key(self) -> str:
        return f"{self.model_name}|{self.setting}|{self.dataset}"

    def __str__(self) -> str:
        return f"{self.model_name} · {self.setting} · {self.dataset} ({self.outputs} outputs)"


def output_groups() -> list[OutputGroup]:
    """Every model, setting and dataset with stored outputs of a kind a condition can show."""
    rows = (
        ModelOutput.objects.filter(evaluation__setting__in=list(OUTPUT_KIND))
        .values_list("evaluation__model_name", "evaluation__setting", "evaluation__dataset")
        .annotate(n=Count("pk"))
        .order_by("evaluation__model_name", "evaluation__setting", "evaluation__dataset")
    )
    return [OutputGroup(*row) for row in rows]


def group_outputs(model_name: str, setting: str, dataset: str, subset: str = "") -> list[ModelOutput]:
    """The model's graded outputs in the setting on the dataset (one relation or task if given), the
    newest evaluation's where several hold a problem, in the order of the problems."""
    outputs = (
        ModelOutput.objects.filter(
            evaluation__model_name=model_name, evaluation__setting=setting, evaluation__dataset=dataset
        )
        .select_related("problem", "evaluation")
        .order_by("-evaluation__created_at", "-evaluation_id", "position")
    )
    if subset:
        outputs = outputs.filter(problem__subset=subset)
    newest: dict[int, ModelOutput] = {}
    for output in outputs:
        newest.setdefault(output.problem_id, output)
    return sorted(newest.values(), key=lambda o: o.problem_id)


def output_grades(output: ModelOutput) -> dict:
    """The output's grades as a stimulus keeps them; no step grades for an output without a trace."""
    evaluation = output.evaluation
    where = evaluation.file_name or (f"job #{evaluation.job_id}" if evaluation.job_id else "imported")
    subset = f"/{evaluation.subset}" if evaluation.subset else ""
    grades: dict = {
        key: None if output.unevaluated and not key.startswith("answer") else getattr(output, field)
        for key, field in GRADE_FIELDS.items()
    }
    grades["source"] = (f"evaluation #{evaluation.pk}: {evaluation.model_name} {evaluation.setting} on "
                        f"{evaluation.dataset}{subset} ({where}), output #{output.pk}")
    return grades


def truth_cell(grades: dict, definition: str, by_trace: bool) -> tuple[bool | None, ...]:
    """The output's cell of the balanced draw: (answer right,) or (trace correct, answer right)."""
    answer = grades.get(f"answer_{definition}")
    if not by_trace:
        return (answer,)
    steps = [grades.get(f"{step}_{definition}") for step in ("classification", "retrieval")]
    return (all(steps) if None not in steps else None, answer)


def cell_name(cell: tuple[bool | None, ...]) -> str:
    answer = "right answer" if cell[-1] else "wrong answer"
    return answer if len(cell) == 1 else f"{'correct' if cell[0] else 'incorrect'} trace, {answer}"


def unusable(output: ModelOutput, task: str) -> str:
    """Why the output cannot be a stimulus of a study with this trial task, or ""."""
    if not short_answer(output.answer or "").strip():
        return "no final answer to show"
    if task == TrialTask.SIMULATION:
        candidates = answer_candidates(output.problem.facts, output.problem.question, output.problem.dataset)
        if several_candidates(short_answer(output.answer), candidates):
            return "its answer names several of the candidates, so no single choice is it"
    return ""


def draw_by_truth(
    outputs: Sequence[ModelOutput], n: int, *, definition: str, by_trace: bool, seed: int = 0,
    task: str = TrialTask.VERIFICATION,
) -> list[ModelOutput]:
    """``n`` usable outputs, as many in each cell of the ground truth (``truth_cell``), each cell drawn
    reproducibly from ``seed`` and spread over relations; BuildError, saying what there is, when ``n``
    does not split evenly or a cell has too few."""
    cells = [(True,), (False,)] if not by_trace else [(t, a) for t in (True, False) for a in (True, False)]
    if n % len(cells):
        named = ", ".join(map(cell_name, cells))
        raise BuildError(f"A draw balanced over {len(cells)} cells ({named}) needs a multiple of "
                         f"{len(cells)} stimuli, not {n}.")
    pool: dict[tuple, list[ModelOutput]] = defaultdict(list)
    for output in outputs:
        if not unusable(output, task):
            pool[truth_cell(output_grades(output), definition, by_trace)].append(output)
    share = n // len(cells)
    short = [cell for cell in cells if len(pool[cell]) < share]
    if short:
        have = "; ".join(f"{cell_name(cell)}: {len(pool[cell])}" for cell in cells)
        raise BuildError(
            f"Not enough outputs for {share} in each cell under the {definition} grades ({have}). Ask for "
            f"fewer stimuli, another definition, or outputs of another setting or dataset."
        )
    rng = random.Random(seed)
    return [o for cell in cells for o in draw_balanced(pool[cell], share, rng.randrange(2**32), _subset)]


def draw_for_study(
    study: Study, model_name: str, setting: str, dataset: str, *, subset: str = "", n: int, by_trace: bool,
    seed: int = 0,
) -> list[ModelOutput]:
    """``draw_by_truth`` from the model's outputs in the setting on the dataset (one relation or task if
    given), under the study's truth definition and for its trial task."""
    if by_trace and OUTPUT_KIND.get(setting) != TraceKind.DECOMPOSITION:
        raise BuildError(f"Only decomposition traces have steps graded right or wrong; the {setting} outputs "
                         "can be balanced over the answer alone.")
    pool = group_outputs(model_name, setting, dataset, subset)
    if not pool:
        raise BuildError(f"No stored outputs of {model_name} in the {setting} setting on {dataset}"
                         f"{'/' + subset if subset else ''}; import them (import_outputs) or run a "
                         "job first.")
    return draw_by_truth(pool, n, definition=study.truth_definition, by_trace=by_trace, seed=seed,
                         task=study.trial_task)


def _subset(output: ModelOutput) -> str:
    return output.problem.subset


def _condition_texts(study: Study, setting: str) -> dict[str, bool]:
    """Condition code -> whether it shows the output's text (else: the answer alone); BuildError naming a
    condition whose kind of text the outputs are not."""
    kind = OUTPUT_KIND.get(setting)
    if kind is None:
        raise BuildError(f"Outputs in the {setting!r} setting hold no trace to show; choose outputs of "
                         f"{', '.join(OUTPUT_KIND)}.")
    shows: dict[str, bool] = {}
    wrong = []
    for condition in study.conditions.all():
        if condition.trace_kind == kind:
            shows[condition.code] = True
        elif condition.trace_kind == TraceKind.ANSWER_ONLY:
            shows[condition.code] = False
        elif condition.trace_kind != TraceKind.IMPORTED:
            wrong.append(f"{condition.label} ({condition.get_trace_kind_display().lower()})")
    if wrong:
        raise BuildError(
            f"The outputs in the {setting} setting are {TraceKind(kind).label.lower()}s; "
            f"{', '.join(wrong)} would show another kind of text, written by another model, beside this "
            f"model's answer. Give those conditions the kind '{TraceKind(kind).label}' or "
            f"'{TraceKind.ANSWER_ONLY.label}', or import their texts with a study file (kind imported)."
        )
    if not shows:
        raise BuildError(f"No condition of the study shows {TraceKind(kind).label.lower()}s or the answer "
                         "alone; nothing would be built.")
    return shows


@transaction.atomic
def build_from_outputs(study: Study, outputs: Sequence[ModelOutput]) -> BuildResult:
    """Make (or remake, while nobody has answered it) one stimulus per output; BuildError, and no change,
    when the outputs cannot be shown in the study's conditions or one cannot be a stimulus. A simulation
    study's new texts are masked and its stimuli given candidates at once (``simulation_texts``)."""
    if not outputs:
        raise BuildError("Choose at least one output.")
    settings = Counter((o.evaluation.model_name, o.evaluation.setting) for o in outputs)
    if len(settings) > 1:
        raise BuildError("A build takes the outputs of one model in one setting; these are of "
                         + ", ".join(f"{m} {s}" for m, s in settings) + ".")
    problems = Counter(o.problem.source_id for o in outputs)
    if twice := [code for code, k in problems.items() if k > 1]:
        raise BuildError(f"One output per problem: {', '.join(twice[:10])} came more than once.")
    refused = [f"{o.problem.source_id} ({why})" for o in outputs if (why := unusable(o, study.trial_task))]
    if refused:
        raise BuildError(f"{len(refused)} outputs cannot be stimuli of this study: "
                         f"{', '.join(refused[:10])}; nothing was built.")
    shows = _condition_texts(study, outputs[0].evaluation.setting)
    result = BuildResult([], [], [])
    for output in outputs:
        problem, evaluation = output.problem, output.evaluation
        fields = {
            "source": f"{problem.dataset} {problem.subset} (problem #{problem.pk}); output of "
                      f"{evaluation.model_name} ({evaluation.setting}, evaluation #{evaluation.pk})",
            "context_facts": list(problem.facts), "question": problem.question,
            "gold_answers": list(problem.gold_answers), "model_answer": short_answer(output.answer),
            "model_answer_original": output.answer, "grades": output_grades(output), "answer_candidates": [],
        }
        stimulus = Stimulus.objects.filter(study=study, code=problem.source_id).first()
        if stimulus is not None and answered(stimulus):
            result.skipped_rated.append(stimulus.code)
            continue
        (result.completed if stimulus else result.created).append(problem.source_id)
        stimulus = stimulus or Stimulus(study=study, code=problem.source_id)
        for name, value in fields.items():
            setattr(stimulus, name, value)
        stimulus.save()
        provenance = {
            "kind": "model output", "output": output.pk, "evaluation": evaluation.pk,
            "model": evaluation.model_name, "setting": evaluation.setting,
            "source": evaluation.file_name or f"job #{evaluation.job_id}",
            "problem": f"{problem.dataset}:{problem.source_id}",
        }
        for condition, shows_text in shows.items():
            StimulusTrace.objects.update_or_create(
                stimulus=stimulus, condition=condition,
                defaults={"text": output.raw_text if shows_text else "", "reference_trace": None,
                          "provenance": provenance, "masked_text": "", "mask_note": ""},
            )
    if study.trial_task == TrialTask.SIMULATION:
        simulation_texts.prepare(study)
    return result
