"""A participant's page URLs are built from a form reversed once per process (views.page_url)."""

import pytest
from django.test import Client

from tests.conftest import Walker, make_study

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("prefix", ["/", "/under/a/prefix/"])
def test_a_participants_page_urls_are_reverses(prefix):
    """views.page_url fills a URL reversed once per script prefix: the same as reverse() for every page,
    behind a prefix too; a page name that needs quoting goes through reverse() itself."""
    from django.urls import clear_script_prefix, reverse, set_script_prefix

    from studyapp.views import page_url

    walker = Walker(Client(), make_study("urls"))
    walker.arrive()
    person = walker.participant
    set_script_prefix(prefix)
    try:
        for page in ("consent", "instructions", "trial-1", "practice", "questionnaire", "done", "a b?c"):
            expected = reverse("studyapp:page", kwargs={"slug": "urls", "token": person.token, "page": page})
            assert page_url(person, page) == expected
        assert page_url(person, "consent").startswith(prefix)
    finally:
        clear_script_prefix()
