"""Steps of a trace as a participant marks them, and the graded first wrong step a mark is scored
against."""

import pytest

from studyapp.rendering import render_trace, trace_steps
from studyapp.step_rating import NO_WRONG_STEP, first_wrong_step, mark_from

DECOMPOSITION = ("<think>The temporal relation between the event in question and the event in context is: "
                 "equal.\nI need to use the following facts to answer the question: ['A is in B.', 'C is in "
                 "D.']</think> <answer>['Liberal Federation']</answer>")
PROSE = "First I look at the dates.\n\n- 1990 to 1995\n- 1996 on\n\n## So\n\nThe answer is *B*."


def test_a_decomposition_trace_is_its_classification_and_retrieval_steps():
    steps = trace_steps(DECOMPOSITION)
    assert len(steps) == 2
    assert steps[0] == ("<p>The temporal relation between the event in question and the event in context "
                        "is: equal.</p>")
    assert steps[1].startswith("<p>I need to use the following facts to answer the question:</p>")
    assert "<li>A is in B.</li><li>C is in D.</li>" in steps[1] and "answer&gt;" not in steps[1]


def test_a_prose_trace_is_its_paragraphs_lists_and_headings_and_joined_is_the_trace_as_shown():
    steps = trace_steps(PROSE)
    assert [s.split(">", 1)[0] + ">" for s in steps] == ["<p>", "<ul>", "<h2>", "<p>"]
    assert "".join(steps) == render_trace(PROSE)
    assert "<em>B</em>" in steps[3]
    assert trace_steps("<script>alert(1)</script>")[0] == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n"


@pytest.mark.parametrize(("classification", "retrieval", "expected"), [
    (True, True, NO_WRONG_STEP), (False, True, 1), (False, False, 1), (True, False, 2),
])
def test_the_first_wrong_step_is_where_the_graded_steps_first_fail(classification, retrieval, expected):
    grades = {"classification_strict": classification, "retrieval_strict": retrieval,
              "classification_published": True, "retrieval_published": True}
    assert first_wrong_step(grades, "strict", 2) == expected
    assert first_wrong_step(grades, "published", 2) == NO_WRONG_STEP


def test_an_ungraded_trace_or_one_shown_otherwise_has_no_truth():
    assert first_wrong_step({}, "strict", 2) is None
    assert first_wrong_step({"classification_strict": True}, "strict", 2) is None
    assert first_wrong_step({"classification_strict": True, "retrieval_strict": False}, "strict", 1) is None


def test_a_posted_mark_is_a_step_shown_or_none():
    assert [mark_from(v, 3) for v in ("0", "1", "3")] == [0, 1, 3]
    assert [mark_from(v, 3) for v in ("4", "-1", "", "x", "1.0", None)] == [None] * 6
