"""The admin forms that choose what a study's stimuli are built from: problems and trace sources, or a
model's graded outputs."""

from __future__ import annotations

from django import forms

from traces import reference_traces
from traces.models import Problem, ReferenceTrace

from .conditions import REFERENCE_KIND
from .models import Study
from .output_stimuli import draw_for_study, output_groups
from .stimulus_builder import BuildError, draw_balanced, eligible, traced


class BuildStimuliForm(forms.Form):
    dataset = forms.ChoiceField(choices=())
    subset = forms.CharField(required=False, help_text="One relation or bAbI task; empty: all.")
    problem_ids = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Source ids of the problems (e.g. cotempqa-equal-291), separated by spaces or commas. "
        "Empty: draw them.",
    )
    count = forms.IntegerField(min_value=1, initial=20, help_text="How many to draw (when none are named).")
    seed = forms.IntegerField(initial=0, help_text="The draw is reproducible from this number.")
    only_correct = forms.BooleanField(
        required=False, initial=True,
        help_text="Draw only problems whose reasoning trace's answer, as participants see it, is right (the "
        "strict check), as the paper's explanations were of R1's correct answers.",
    )

    def __init__(self, *args, study: Study, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.conditions = list(study.conditions.all())
        datasets = Problem.objects.order_by().values_list("dataset", flat=True).distinct()
        self.fields["dataset"].choices = [(d, d) for d in datasets]
        with_traces = ReferenceTrace.objects.values_list("problem__dataset", flat=True).first()
        self.fields["dataset"].initial = with_traces  # where the traces are, not the first name
        for condition in traced(self.conditions):
            counts = reference_traces.sources(REFERENCE_KIND[condition.trace_kind])
            self.fields[f"source_{condition.code}"] = forms.ChoiceField(
                label=f"{condition.label}: from", required=False,
                choices=[("", "the only source there is"),
                         *((s, f"{s} ({n} problems)") for s, n in counts.items())],
            )

    def sources(self) -> dict[str, str]:
        return {c.code: self.cleaned_data.get(f"source_{c.code}", "") for c in traced(self.conditions)}

    def clean(self) -> dict:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        pool = Problem.objects.filter(dataset=cleaned["dataset"])
        if cleaned["subset"]:
            pool = pool.filter(subset=cleaned["subset"])
        named = [i for i in cleaned["problem_ids"].replace(",", " ").split() if i]
        try:
            if named:
                found = {p.source_id: p for p in pool.filter(source_id__in=named)}
                unknown = [i for i in named if i not in found]
                if unknown:
                    raise forms.ValidationError(
                        f"No such problems in {cleaned['dataset']}: {', '.join(unknown[:10])}."
                    )
                cleaned["problems"] = [found[i] for i in dict.fromkeys(named)]
            else:
                problems = list(pool.order_by("pk"))
                ready = eligible(
                    problems, self.sources(), self.conditions, only_correct=cleaned["only_correct"]
                )
                if not ready:
                    raise forms.ValidationError(
                        "No problem has a trace for every condition from these sources; make them with trace "
                        "jobs first."
                    )
                cleaned["problems"] = draw_balanced(ready, cleaned["count"], cleaned["seed"])
        except BuildError as error:
            raise forms.ValidationError(str(error)) from None
        return cleaned


class BuildFromOutputsForm(forms.Form):
    """Which model's graded outputs a verification or simulation study's stimuli are drawn from, and how
    many, balanced over the ground truth under the study's definition."""

    outputs = forms.ChoiceField(choices=(), label="Outputs of")
    subset = forms.CharField(required=False, help_text="One relation or bAbI task; empty: all.")
    count = forms.IntegerField(min_value=2, initial=20, help_text="How many stimuli to draw.")
    balance = forms.ChoiceField(
        choices=[("answer_trace", "trace correct or not x answer right or wrong (decomposition traces)"),
                 ("answer", "answer right or wrong")],
        help_text="As many stimuli in each cell, under the study's truth definition.",
    )
    seed = forms.IntegerField(initial=0, help_text="The draw is reproducible from this number.")

    def __init__(self, *args, study: Study, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.study = study
        self.fields["outputs"].choices = [(group.key, str(group)) for group in output_groups()]

    def clean(self) -> dict:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        model_name, setting, dataset = cleaned["outputs"].rsplit("|", 2)
        try:
            cleaned["drawn"] = draw_for_study(
                self.study, model_name, setting, dataset, subset=cleaned["subset"].strip(),
                n=cleaned["count"], by_trace=cleaned["balance"] == "answer_trace", seed=cleaned["seed"],
            )
        except BuildError as error:
            raise forms.ValidationError(str(error)) from None
        return cleaned
