"""The simulation task's masking (traces.masking) on hand-made texts and on every text the project ships."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from traces.masking import PLACEHOLDER, answer_aliases, mask_final_answer

from .shipped import texts

DECOMPOSITION = (
    "<think>The temporal relation between the event in question and the event in context is: equal.\n"
    "I need to use the following facts to answer the question: ['Henry Barwell is a member of the Liberal "
    "Federation in October 16, 1923.']</think> <answer>['Liberal Federation']</answer>"
)


def test_decomposition_keeps_the_steps_and_hides_the_answer_part():
    masked = mask_final_answer(DECOMPOSITION, "decomposition", "Liberal Federation")
    assert masked.text == DECOMPOSITION.split(" <answer>")[0] + f" <answer>{PLACEHOLDER}</answer>"
    assert "Liberal Federation in October 16, 1923" in masked.text  # the retrieved fact is the reasoning


def test_prose_masks_the_conclusions_not_the_evidence():
    text = (
        "Henry Barwell was a member of the Liberal Union on October 16, 1923. I notice that on October 16, "
        "1923, he was a member of the Liberal Federation. Therefore, during the identical time period he "
        "belonged to the Liberal Federation.\n\n**Answer:** Liberal Federation"
    )
    masked = mask_final_answer(text, "reasoning", "Liberal Federation")
    assert masked.text == (
        "Henry Barwell was a member of the Liberal Union on October 16, 1923. I notice that on October 16, "
        f"1923, he was a member of the Liberal Federation. Therefore, during the identical time period he "
        f"belonged to the {PLACEHOLDER}.\n\n**Answer:** {PLACEHOLDER}"
    )
    assert masked.note == "2 statement(s) of the answer masked."


def test_explanations_open_with_the_answer_and_parts_of_an_answer_merge():
    text = ('The positions are "Catholic bishop" and "titular bishop". The context lists Catholic bishop on '
            "September 16, 1748 and titular bishop on September 16, 1748. Thus they are titular bishop and "
            "Catholic bishop.")
    masked = mask_final_answer(text, "explanation", "Catholic bishop; titular bishop")
    assert masked.text.startswith(f'The positions are "{PLACEHOLDER}". The context lists Catholic bishop')
    assert masked.text.endswith(f"Thus they are {PLACEHOLDER}.")


def test_a_surname_alone_names_a_person():
    assert answer_aliases("Viktor Dvirnyk") == ["Viktor Dvirnyk", "Dvirnyk"]
    assert answer_aliases("Progressive Democrats") == ["Progressive Democrats"]
    text = "Viktor Dvirnyk played from 1997 to 1999. So only Dvirnyk was a teammate then."
    masked = mask_final_answer(text, "summary", "Viktor Dvirnyk")
    assert masked.text == text.replace("only Dvirnyk", f"only {PLACEHOLDER}")


@pytest.mark.parametrize(
    ("text", "kind", "answer", "why"),
    [
        ("He belonged to no party at that time.", "summary", "None", "non-answer"),
        ("Lyon is the answer.", "explanation", "", "no answer"),
        ("Lyon.", "explanation", "Lyon", "little more than its answer"),
        ("So it is that he held none of them on the day he was made bishop.", "reasoning",
         "He held none of the positions on the day he was made a bishop, as the facts say", "sentence"),
        ("assistant\n\n<think>The office is west of the bedroom.>", "decomposition", "x", "no answer part"),
    ],
)
def test_refusals_say_why(text, kind, answer, why):
    masked = mask_final_answer(text, kind, answer)
    assert masked.text is None
    assert why in masked.note


def test_an_unknown_kind_is_an_error():
    with pytest.raises(ValueError, match="kind must be one of"):
        mask_final_answer("text", "poem", "x")


# --- every shipped text --------------------------------------------------------------------------------

# Refused for simulation, each with its reason. cotempqa-equal-62: R1 answered "None" (free text says
# so in many ways; the demo leaves this problem out anyway). The authors' outputs: truncated or malformed
# generations with no answer part, so that the reasoning is all the model said.
REFUSED = {
    "cotempqa-equal-62/r1", "cotempqa-equal-62/r1_summary", "cotempqa-equal-62/posthoc_explanation",
    *(f"cotempqa/{name}/decomposition_correct" for name in ("during#455", "during#479", "overlap#90")),
    *(f"babi/test#{i}/decomposition_incorrect" for i in (
        133, 138, 140, 151, 156, 163, 164, 170, 177, 180, 181, 185, 186, 190, 194, 195, 197, 198, 200,
        202, 205, 206, 207, 218, 226, 231,
    )),
}
COUNTS = {  # (masked, refused) per source
    "pilot": (45, 3),
    "demo-decomposition": (16, 0),
    "authors-traces": (2652, 0),
    "authors-outputs": (2623, 29),
    "rule-traces": (5294, 0),
}

_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_CONCLUSION = re.compile(r"answer\s*(?:\*\*)?\s*(?:is|:|should|must)|\\boxed|therefore|thus|in conclusion",
                         re.IGNORECASE)


def stated_answer(masked: str, kind: str, answer: str) -> str | None:
    """An independent check: the statement of the answer left in a masked text, or None. The answer part
    (after the last </think>, or an <answer> tag), the last sentence, and any sentence that labels an
    answer or concludes may not name any part of the answer."""
    parts = [p.strip().lower() for p in answer.split(";") if p.strip()]
    lowered = masked.replace(PLACEHOLDER, "[hidden]").lower()
    tail = lowered.rsplit("</think>", 1)[1] if "</think>" in lowered else ""
    tagged = re.findall(r"<answer>(.*?)(?:</answer>|$)", lowered, re.DOTALL)
    for region in (tail, *tagged):
        if any(p in region for p in parts):
            return region
    if kind == "decomposition":
        sentences = [s for s in _SENTENCE.split(lowered) if _CONCLUSION.search(s)]
    else:
        found = [s for s in _SENTENCE.split(lowered) if s.strip()]
        sentences = [s for s in found if _CONCLUSION.search(s)] + found[-1:]
    return next((s for s in sentences if any(p in s for p in parts)), None)


def test_every_shipped_text_is_masked_with_no_stated_answer_left_or_refused():
    counts, refused, leaks, caught = Counter(), set(), [], Counter()
    for t in texts():
        caught[t.source] += stated_answer(t.text, t.kind, t.model_answer) is not None  # the check can fail
        result = mask_final_answer(t.text, t.kind, t.model_answer)
        if result.text is None:
            refused.add(t.id)
            counts[t.source, "refused"] += 1
            assert result.note.startswith("Refused:"), t.id
            continue
        counts[t.source, "masked"] += 1
        if (left := stated_answer(result.text, t.kind, t.model_answer)) is not None:
            leaks.append((t.id, left[-120:]))
        if t.kind == "decomposition":
            assert PLACEHOLDER in result.text, t.id
    assert leaks == []
    assert caught["pilot"] == 33  # of 48 unmasked: the others' last sentences do not name the answer
    assert refused == REFUSED
    assert {s: (counts[s, "masked"], counts[s, "refused"]) for s in COUNTS} == COUNTS
