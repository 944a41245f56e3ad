"""The database itself refuses what would corrupt a study's data."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models.deletion import ProtectedError

from studyapp.allocation import arrive
from studyapp.models import Item, Participant, Response
from tests.conftest import make_study, new_pid

pytestmark = pytest.mark.django_db


def _answer(participant, stimulus_id, item, value=3) -> Response:
    return Response.objects.create(
        participant=participant, stimulus_id=stimulus_id, item=item, value=value, position=1
    )


def test_second_answer_to_the_same_trial_item_is_refused(study):
    p = arrive(study, new_pid())
    item = study.items.get(code="faithfulness_1")
    _answer(p, p.stimulus_sequence[0], item)
    with pytest.raises(IntegrityError), transaction.atomic():
        _answer(p, p.stimulus_sequence[0], item, value=5)
    # The same item about another stimulus is a different answer.
    _answer(p, p.stimulus_sequence[1], item)
    assert Response.objects.filter(participant=p).count() == 2


def test_second_answer_to_the_same_end_item_is_refused(study):
    p = arrive(study, new_pid())
    item = study.items.get(code="faithfulness_overall")
    _answer(p, None, item)
    with pytest.raises(IntegrityError), transaction.atomic():
        _answer(p, None, item, value=1)


@pytest.mark.parametrize("value", [0, 8])
def test_value_off_every_scale_is_refused(study, value):
    """The database refuses what no item's scale has (1 to 7); the page refuses a point its item lacks
    (6 on a five-point item: tests/studyapp/test_participant_path.py)."""
    p = arrive(study, new_pid())
    with pytest.raises(IntegrityError), transaction.atomic():
        _answer(p, p.stimulus_sequence[0], study.items.get(code="predictability_1"), value=value)


def test_same_prolific_pid_twice_in_one_study_is_refused(study):
    first = arrive(study, new_pid())
    with pytest.raises(IntegrityError), transaction.atomic():
        Participant.objects.create(
            study=study, condition=first.condition, prolific_pid=first.prolific_pid,
            stimulus_sequence=[], item_order=[], end_item_order=[],
        )


def test_same_prolific_pid_may_take_part_in_another_study(study):
    other = make_study("s2")
    pid = new_pid()
    assert arrive(study, pid).study == study
    assert arrive(other, pid).study == other


def test_answers_cannot_be_deleted_with_their_participant_or_study(study):
    p = arrive(study, new_pid())
    _answer(p, p.stimulus_sequence[0], study.items.get(code="predictability_1"))
    with pytest.raises(ProtectedError):
        p.delete()
    with pytest.raises(ProtectedError):
        study.delete()


def test_default_questionnaire_has_two_items_per_construct_on_labelled_five_point_scales(study):
    trial_items = study.items.filter(scope=Item.Scope.TRIAL)
    for construct in ("predictability", "understandability", "faithfulness", "cognitive_load"):
        items = trial_items.filter(construct=construct)
        assert items.count() >= 2, construct
        for item in items:
            assert item.code.startswith(f"{construct}_")
            assert len(item.anchors) == 5 and all(item.anchors)
            assert item.source, f"{item.code} names no source instrument"
            item.full_clean()
    checks = study.items.filter(construct="attention_check").order_by("code")
    assert [c.anchors[c.expected_value - 1] for c in checks] == ["Disagree", "Agree"]
    assert all(c.anchors[c.expected_value - 1] in c.text for c in checks)  # each asks for its own answer


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"anchors": ["a", "b", "c", "d"]}, "anchors"),
        ({"anchors": ["a", "b", "", "d", "e"]}, "anchors"),
        ({"code": "trust_1"}, "code"),
        (
            {"construct": "attention_check", "code": "attention_check_2", "expected_value": None},
            "expected_value",
        ),
    ],
)
def test_item_edits_that_would_break_the_scale_are_explained(study, changes, field):
    item = study.items.get(code="predictability_1")
    for name, value in changes.items():
        setattr(item, name, value)
    with pytest.raises(ValidationError) as error:
        item.full_clean()
    assert field in error.value.message_dict
