"""The power and sample-size planner: its page and command start from the study as set up and its plan,
simulate the planned test at the design asked for, and refuse bad settings with what is wrong."""

import html
import json

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from analysis.models import AnalysisPlan
from analysis.simulation import Design, power
from tests.conftest import make_study

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("researcher", "r@example.org", "pw"))
    return client


def page(client, slug: str, **query):
    return client.get(reverse("analysis:power-planner", args=[slug]), query)


def test_the_planner_starts_from_the_study_and_its_plan(staff):
    study = make_study("planner", n_stimuli=6, trials=3, target=30)
    AnalysisPlan.objects.create(study=study, primary_outcomes=["faithfulness", "predictability"],
                                primary_test="kruskal", pairwise="dunn", alpha=0.01)
    response = page(staff, "planner")
    text = response.content.decode()
    assert response.status_code == 200 and "Nothing was simulated" not in text
    for name, value in (("conditions", 4), ("per_condition", 30), ("stimuli", 6), ("trials", 3),
                        ("items", 2)):
        assert f'name="{name}" min="' in text and f'value="{value}"' in text
    assert "Kruskal-Wallis test" in text and "Holm across 2 primary outcomes at \u03b1 = 0.01" in text
    assert page(staff.__class__(), "planner").status_code == 302  # staff only
    assert "power planner" in staff.get(reverse("analysis:report", args=["planner"])).content.decode()


def test_the_page_simulates_the_planned_test_and_says_what_it_found(staff):
    make_study("planner", n_stimuli=5, trials=5)
    response = page(staff, "planner", simulate=1, simulations=12, per_condition=6, effect=3, format="json")
    result = json.loads(response.content)["result"]
    assert response.status_code == 200 and result["test"] == "ordinal_mixed" and result["outcomes"] == 4
    assert result["power"]["n"] == 12 and result["power"]["ci_low"] <= result["power"]["rate"]
    assert result["power"]["rate"] >= 0.75  # +3 logits is hard to miss even at 6 per condition
    assert result["design"]["per_condition"] == 6 and result["design"]["effect"] == 3
    assert "4 conditions x 6 participants" in result["words"] and "of 12 simulated studies" in result["words"]
    text = page(staff, "planner", simulate=1, simulations=4, per_condition=4).content.decode()
    assert "<strong>Power " in text and "95% CI" in text


@pytest.mark.parametrize(("query", "message"), [
    ({"per_condition": "many"}, "per condition: 'many' is not a whole number"),
    ({"effect": "nan"}, "effect: must be finite"),
    ({"trials": "9"}, "as many trials as stimuli"),
    ({"conditions": "1"}, "at least two conditions"),
    ({"simulations": "0"}, "simulations: a whole number from 1 to 10,000"),
    ({"simulations": "5000", "per_condition": "100"}, "use the command line: python manage.py plan_power"),
    ({"seed": "-3"}, "seed: '-3' is not a whole number"),
])
def test_bad_settings_are_refused_with_what_is_wrong(staff, query, message):
    make_study("planner", n_stimuli=5, trials=5)
    response = page(staff, "planner", simulate=1, **query)
    text = html.unescape(response.content.decode())
    assert response.status_code == 400 and message in text
    for name, value in query.items():  # what was typed stays in the form, to be corrected
        assert f'name="{name}"' not in text or f'value="{value}"' in text
    assert json.loads(page(staff, "planner", simulate=1, format="json", **query).content)["result"] is None


def test_the_command_prints_the_power_and_refuses_bad_settings(capsys):
    make_study("planner", n_stimuli=5, trials=5)
    call_command("plan_power", "planner", "--simulations", "10", "--per-condition", "5", "--effect", "0.5",
                 "--json")
    result = json.loads(capsys.readouterr().out)
    assert result["power"]["n"] == 10 and result["design"]["per_condition"] == 5
    call_command("plan_power", "planner", "--simulations", "5", "--per-condition", "4")
    assert "detects an effect of +0.5 logit" in capsys.readouterr().out
    with pytest.raises(CommandError, match="per condition: 'x' is not a whole number"):
        call_command("plan_power", "planner", "--per-condition", "x")
    with pytest.raises(CommandError, match="No study 'nope'"):
        call_command("plan_power", "nope")


def test_power_grows_with_the_effect_and_the_sample():
    # The same seeds: no effect is found about as often as Holm lets a null through (under 5%); a large
    # one nearly always; more participants find a middling one more often.
    small = Design(per_condition=8, effect=0.0)
    assert power(small, "ordinal_mixed", 40, seed=3)["power"]["rate"] <= 0.1
    assert power(Design(per_condition=8, effect=2.5), "ordinal_mixed", 40, seed=3)["power"]["rate"] >= 0.8
    few = power(Design(per_condition=8, effect=1.0), "kruskal", 60, seed=3)["power"]["rate"]
    many = power(Design(per_condition=40, effect=1.0), "kruskal", 60, seed=3)["power"]["rate"]
    assert many > few + 0.2
