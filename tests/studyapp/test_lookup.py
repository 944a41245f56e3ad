"""The participant read every page starts with: the same objects the ORM would give, in one query."""

import uuid

import pytest
from django.db import transaction
from django.db.transaction import TransactionManagementError

from studyapp.lookup import participant_for_page
from studyapp.models import Condition, Participant, Study


def _values(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


def test_it_reads_what_the_orm_reads_participant_study_and_condition(walker, django_assert_num_queries):
    walker.complete(comment="clear enough")  # every field set: JSON lists, times, attention outcome
    orm = Participant.objects.select_related("study", "condition").get(pk=walker.participant.pk)

    with django_assert_num_queries(1):
        read = participant_for_page(walker.study.slug, orm.token)
        assert _values(read) == _values(orm)
        assert _values(read.study) == _values(orm.study)
        assert _values(read.condition) == _values(orm.condition)

    assert isinstance(read.token, uuid.UUID)
    assert read.started_at.tzinfo is not None and read.ended_at.tzinfo is not None
    assert read.study.created_at.tzinfo is not None
    assert isinstance(read.stimulus_sequence, list) and read.comment == "clear enough"
    assert isinstance(read.study, Study) and isinstance(read.condition, Condition)
    assert not read._state.adding and read._state.db == "default"


def test_it_gives_objects_that_save_like_orm_objects(walker):
    walker.arrive()
    read = participant_for_page(walker.study.slug, walker.participant.token)
    read.comment = "saved through the ORM"
    read.save(update_fields=["comment"])
    assert Participant.objects.get(pk=read.pk).comment == "saved through the ORM"


def test_a_token_of_another_study_or_no_participant_is_not_found(walker, study):
    walker.arrive()
    other = Study.objects.create(slug="other-study", title="Other")
    with pytest.raises(Participant.DoesNotExist):
        participant_for_page(other.slug, walker.participant.token)
    with pytest.raises(Participant.DoesNotExist):
        participant_for_page(study.slug, uuid.uuid4())


@pytest.mark.django_db(transaction=True)  # outside the test's own transaction
def test_locking_the_row_needs_a_transaction(walker):
    walker.arrive()
    with pytest.raises(TransactionManagementError):
        participant_for_page(walker.study.slug, walker.participant.token, lock=True)
    with transaction.atomic():
        assert participant_for_page(walker.study.slug, walker.participant.token, lock=True).pk
