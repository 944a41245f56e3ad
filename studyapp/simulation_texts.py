"""What a simulation study needs of its stimuli, made by the traces app's rules and stored for review:
each stimulus's answer candidates (``traces.candidates``) and each text with the model's final answer
withheld (``traces.masking``). Only empty fields are filled, so a researcher's corrections stay; a text
that cannot be masked safely keeps an empty masked text and says why in its note, and the study then
refuses to open until someone writes one or the stimulus goes. A condition that shows the answer alone
has no text to mask."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction

from traces.candidates import answer_candidates
from traces.masking import mask_final_answer

from .models import Study, TraceKind


@dataclass
class Prepared:
    candidates: int = 0  # stimuli given candidates
    masked: int = 0  # texts given a masked version
    refused: list[str] = field(default_factory=list)  # "stimulus / condition: why", texts left unmasked

    def summary(self) -> str:
        refused = f"; {len(self.refused)} texts could not be masked" if self.refused else ""
        return f"candidates for {self.candidates} stimuli, masked texts for {self.masked}{refused}"


def dataset_of(code: str, source: str) -> str:
    """The benchmark a stimulus comes from, as its code or source names it (CoTempQA unless bAbI)."""
    return "babi" if "babi" in f"{code} {source}".lower() else "cotempqa"


def prepare(study: Study) -> Prepared:
    """Fill the empty answer candidates and masked texts of every stimulus of the study (practice
    included), in one transaction; each change to a text is kept as a new version as any other is."""
    kinds = dict(study.conditions.values_list("code", "trace_kind"))
    done = Prepared()
    with transaction.atomic():
        for stimulus in study.stimuli.prefetch_related("traces").order_by("pk"):
            if not stimulus.answer_candidates:
                stimulus.answer_candidates = answer_candidates(
                    stimulus.context_facts, stimulus.question, dataset_of(stimulus.code, stimulus.source))
                stimulus.save(update_fields=["answer_candidates"])
                done.candidates += 1
            for trace in stimulus.traces.all():
                if trace.masked_text or kinds.get(trace.condition) == TraceKind.ANSWER_ONLY:
                    continue
                masked = mask_final_answer(trace.text, kinds.get(trace.condition, "imported"),
                                           stimulus.model_answer)
                if masked.text is None:
                    done.refused.append(f"{stimulus.code} / {trace.condition}: {masked.note}")
                else:
                    done.masked += 1
                if (trace.masked_text, trace.mask_note) != (masked.text or "", masked.note):
                    trace.masked_text, trace.mask_note = masked.text or "", masked.note
                    trace.save(update_fields=["masked_text", "mask_note"])
    return done
