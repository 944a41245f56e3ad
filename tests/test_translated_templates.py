"""Templates compiled per language with their fixed translations folded in (tracestudy/translated_templates)
read exactly as Django renders them: every participant page of a walk, in German and in English, with a
judgement task and with step marks, is the same HTML under Django's own cached loader; each language gets
its own compiled template; tags whose output depends on more than the language are left to Django; the
language, static URLs and plain includes are fixed when compiled, rendering as Django renders them."""

from __future__ import annotations

import re

import pytest
from django.template import Context, Engine, TemplateDoesNotExist
from django.template.base import TextNode
from django.templatetags.i18n import BlockTranslateNode, TranslateNode
from django.templatetags.static import StaticNode
from django.test import Client, override_settings
from django.utils import translation

from studyapp.models import Study, TrialTask
from tests.conftest import Walker
from tests.studyapp.judged import simulation_study
from tests.studyapp.test_languages import arrive, german_study  # noqa: F401 - a fixture
from tests.studyapp.translated import offer_german

CSRF = re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]+"')


def with_djangos_loader():
    """The site's template settings with Django's own cached loader instead of the folding one."""
    from django.conf import settings

    (engine,) = settings.TEMPLATES
    options = {key: value for key, value in engine["OPTIONS"].items() if key != "loaders"}
    return override_settings(TEMPLATES=[{**engine, "APP_DIRS": True, "OPTIONS": options}])


def html(response) -> str:
    """The status and the page (a form's errors come with 400), without the CSRF token: a new masked
    token on every render."""
    return f"{response.status_code}\n" + CSRF.sub(r'\1"', response.content.decode())


def same_under_both_loaders(walker: Walker, page: str) -> str:
    """The page as the folding loader renders it, after checking Django's loader renders the same."""
    ours = html(walker.get(page))
    with with_djangos_loader():
        djangos = html(walker.get(page))
    assert ours == djangos, page
    return ours


def walk_comparing(walker: Walker) -> list[str]:
    """Every page of the walk (the error pages of consent and the questionnaire too), compared."""
    pages = [same_under_both_loaders(walker, "consent")]
    error = html(walker.post("consent", {}))
    with with_djangos_loader():
        assert html(walker.post("consent", {})) == error
    walker.post("consent", {"consent": "yes"})
    pages.append(same_under_both_loaders(walker, "instructions"))
    walker.post("instructions", {})
    for n in range(1, walker.study.trials_per_participant + 1):
        page = f"trial-{n}"
        pages.append(same_under_both_loaders(walker, page))
        walker.post(page, walker.answers_for(page))
        if walker.study.trial_task != TrialTask.RATING:  # the feedback shown after a judgement
            pages.append(same_under_both_loaders(walker, page))
    pages.append(same_under_both_loaders(walker, "questionnaire"))
    walker.post("questionnaire", {**walker.answers_for("questionnaire"), "comment": "gut"})
    pages.append(same_under_both_loaders(walker, "done"))
    return pages


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["de", "en"])
def test_a_walk_reads_as_with_djangos_loader(german_study, language):  # noqa: F811 - the fixture
    Study.objects.filter(pk=german_study.pk).update(step_rating=True, time_limit_minutes=60)
    walker = arrive(Client(), german_study, language=language)
    pages = walk_comparing(walker)
    assert all(page.startswith("200") and f'<html lang="{language}">' in page for page in pages)
    assert ("Speichern und weiter" in pages[2]) == (language == "de")


@pytest.mark.django_db
def test_a_judgement_walk_reads_as_with_djangos_loader():
    study = offer_german(simulation_study("folded"))
    walk_comparing(arrive(Client(), study, language="de"))


def engine() -> Engine:
    templates = {
        "page.html": (
            '{% load i18n %}<p title="{% translate "Save and continue" %}">{% translate "Facts" %}</p>'
            '{% translate "Question" as heading %}<h2>{{ heading }}</h2>'
            "{% blocktranslate %}Problem {{ trial }}{% endblocktranslate %}"
            "{% blocktranslate with n=count %}Problem {{ n }}{% endblocktranslate %}"
            '{% language "en" %}{% translate "Facts" %}{% endlanguage %}'
            '{% autoescape off %}{% translate "Facts" %}{% endautoescape %}'
            "{% if flag %}{% translate 'Question' %}{% endif %}{% include 'part.html' %}"
        ),
        "part.html": '{% load i18n %}{% translate "Facts" %}',
    }
    in_memory = ("django.template.loaders.locmem.Loader", templates)
    return Engine(
        loaders=[("tracestudy.translated_templates.Loader", [in_memory])],
        libraries={"i18n": "django.templatetags.i18n"},
    )


def test_each_language_gets_its_own_compiled_template():
    folding = engine()
    context = {"trial": "<b>3</b>", "count": 4, "flag": True}  # "Problem %(n)s" is not in the catalog
    with translation.override("de"):
        deutsch = folding.get_template("page.html").render(Context(context))
    with translation.override("en"):
        english = folding.get_template("page.html").render(Context(context))
    assert deutsch == (
        '<p title="Speichern und weiter">Fakten</p><h2>Frage</h2>Aufgabe &lt;b&gt;3&lt;/b&gt;Problem 4'
        "FactsFaktenFrageFakten"
    )
    assert english == (
        '<p title="Save and continue">Facts</p><h2>Question</h2>Problem &lt;b&gt;3&lt;/b&gt;Problem 4'
        "FactsFactsQuestionFacts"
    )


def test_fixed_translations_become_text_and_the_rest_is_left_to_django():
    with translation.override("de"):
        nodelist = engine().get_template("page.html").nodelist
    top = [type(node).__name__ for node in nodelist]
    # the fixed ones joined into the text around them; the one with a variable keeps it
    assert top[:4] == ["LoadNode", "TextNode", "TranslatedVariableNode", "TextNode"]
    assert "TranslatedBlockNode" in top and not any(isinstance(node, TranslateNode) for node in nodelist)
    language_node = next(node for node in nodelist if type(node).__name__ == "LanguageNode")
    assert [type(node) for node in language_node.nodelist] == [TranslateNode]  # not folded in German
    autoescape_node = next(node for node in nodelist if type(node).__name__ == "AutoEscapeControlNode")
    assert [type(node) for node in autoescape_node.nodelist] == [TranslateNode]
    if_node = next(node for node in nodelist if type(node).__name__ == "IfNode")
    assert [type(node) for node in if_node.conditions_nodelists[0][1]] == [TextNode]
    assert not any(isinstance(node, BlockTranslateNode) for node in nodelist)



def including_engine() -> Engine:
    templates = {
        "page.html": (
            '{% load i18n static %}{% get_current_language as lang %}<html lang="{{ lang }}">'
            '<link href="{% static "studyapp/study.css" %}">'
            "{% include 'part.html' %}[{{ inner|default:'unset' }}]"
            "{% include 'part.html' with inner='given' %}{% include 'blocks.html' %}{% include name %}"
        ),
        "part.html": '{% load i18n %}{% translate "Facts" as inner %}{{ inner }}',
        "blocks.html": "{% block b %}B{% endblock %}",
        "other.html": "other",
        "broken.html": "{% include 'missing.html' %}",
    }
    in_memory = ("django.template.loaders.locmem.Loader", templates)
    return Engine(
        loaders=[("tracestudy.translated_templates.Loader", [in_memory])],
        libraries={"i18n": "django.templatetags.i18n", "static": "django.templatetags.static"},
    )


def test_the_language_static_urls_and_plain_includes_are_fixed_when_compiled():
    folding = including_engine()
    stylesheet = StaticNode.handle_simple("studyapp/study.css")
    for language, facts in (("de", "Fakten"), ("en", "Facts")):
        with translation.override(language):
            template = folding.get_template("page.html")
            # what the spliced-in template sets stays inside it, as with Django's include
            assert template.render(Context({"name": "other.html"})) == (
                f'<html lang="{language}"><link href="{stylesheet}">{facts}[unset]{facts}Bother'
            )
            nodes = [type(node).__name__ for node in template.nodelist]
            # the include of a literal name spliced in; with variables, of blocks or of a variable: Django's
            assert nodes.count("InlinedIncludeNode") == 1 and nodes.count("IncludeNode") == 3
            assert "GetCurrentLanguageNode" not in nodes and "StaticNode" not in nodes
    broken = folding.get_template("broken.html")  # compiles; fails when rendered, as under Django's loader
    with pytest.raises(TemplateDoesNotExist):
        broken.render(Context())


@pytest.mark.parametrize("separated", [False, True])
def test_a_whole_number_in_a_translated_block_reads_as_django_renders_it(settings, separated):
    settings.USE_THOUSAND_SEPARATOR = separated
    source = "{% load i18n %}{% blocktranslate %}Problem {{ n }}{% endblocktranslate %}"
    libraries = {"i18n": "django.templatetags.i18n"}
    in_memory = ("django.template.loaders.locmem.Loader", {"n.html": source})
    folding = Engine(loaders=[("tracestudy.translated_templates.Loader", [in_memory])], libraries=libraries)
    djangos = Engine(libraries=libraries).from_string(source)
    for value in (7, 12345, True, 2.5):
        with translation.override("en"):
            context = {"n": value}
            assert folding.get_template("n.html").render(Context(context)) == djangos.render(Context(context))
    with translation.override("en"):
        assert folding.get_template("n.html").render(Context({"n": 12345})) == (
            "Problem 12,345" if separated else "Problem 12345")


def test_a_template_that_includes_itself_renders_as_under_django():
    """A tree drawn by recursion: the include of itself stays Django's (splicing it in would never end)."""
    templates = {"tree.html": "{% for child in node.children %}[{{ child.name }}"
                              "{% with node=child %}{% include 'tree.html' %}{% endwith %}]{% endfor %}"}
    in_memory = ("django.template.loaders.locmem.Loader", templates)
    folding = Engine(loaders=[("tracestudy.translated_templates.Loader", [in_memory])])
    leaf = {"name": "c", "children": []}
    tree = {"children": [{"name": "a", "children": [{"name": "b", "children": [leaf]}]}, leaf]}
    with translation.override("en"):
        assert folding.get_template("tree.html").render(Context({"node": tree})) == "[a[b[c]]][c]"
