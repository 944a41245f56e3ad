"""A page's Likert form: forms share their items' fields (studyapp.forms._likert_field) yet each keeps its
own answers and errors, its messages in the active language."""

import pytest
from django.utils import translation

from studyapp.forms import LikertPageForm, field_name
from tests.conftest import make_study

pytestmark = pytest.mark.django_db


def test_forms_sharing_fields_keep_their_own_answers_and_errors():
    study = make_study("likert-form")
    items = list(study.items.order_by("position"))
    first, second = items[0], items[1]
    good = {field_name(item): 1 + n % item.scale_points for n, item in enumerate(items)} | {"stimulus": "7"}
    bad = {**good, field_name(second): str(second.scale_points + 1)}
    del bad[field_name(first)]

    wrong = LikertPageForm(items, stimulus_id=7, data=bad)
    right = LikertPageForm(items, stimulus_id=7, data=good)
    assert not wrong.is_valid() and right.is_valid()
    assert right.answers() == {item.code: 1 + n % item.scale_points for n, item in enumerate(items)}
    assert set(wrong.errors) == {field_name(first), field_name(second)}
    assert wrong.errors[field_name(first)] == ["Please choose an answer for this statement."]
    assert wrong.errors[field_name(second)] == [f"Choose one of the points 1 to {second.scale_points}."]
    assert not LikertPageForm(items, stimulus_id=8, data=good).is_valid()  # another trial's problem

    with translation.override("de"):
        german = LikertPageForm(items, stimulus_id=7, data=bad)
        assert not german.is_valid()
        assert list(german.errors[field_name(first)]) != list(wrong.errors[field_name(first)])
    again = LikertPageForm(items, stimulus_id=7, data=bad)  # English again, from the same shared fields
    assert not again.is_valid() and again.errors == wrong.errors
