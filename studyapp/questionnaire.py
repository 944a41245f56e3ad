"""The default questionnaire: wording adapted from established instruments, cited per item.

Researchers edit the items of their own study in the admin; these are only the starting point that
every new study gets. Sources (full references in docs/researchers/questionnaire.md):
- ESS: Hoffman, Mueller, Klein & Litman (2018), "Metrics for Explainable AI: Challenges and
  Prospects", arXiv:1812.04608, Explanation Satisfaction Scale.
- TS: the same paper's Trust Scale ("The outputs of the [tool] are very predictable").
- TLX: Hart & Staveland (1988), NASA Task Load Index, Mental Demand and Effort subscales.
"""

from dataclasses import asdict, dataclass

from django.utils.translation import gettext_noop

from .models import Construct, Item, Study

# The texts and anchors are marked for the catalogs: a study that keeps them shows them in each language the
# platform has (the platform's own translations, not validated ones: docs/researchers/languages.md).
AGREEMENT = [
    gettext_noop("Strongly disagree"), gettext_noop("Disagree"), gettext_noop("Neither agree nor disagree"),
    gettext_noop("Agree"), gettext_noop("Strongly agree"),
]
DEMAND = [gettext_noop("Very low"), gettext_noop("Low"), gettext_noop("Moderate"), gettext_noop("High"),
          gettext_noop("Very high")]
DISAGREE_VALUE = AGREEMENT.index("Disagree") + 1
AGREE_VALUE = AGREEMENT.index("Agree") + 1


@dataclass(frozen=True)
class ItemSpec:
    """An item as a template (the default questionnaire's, a library scale's): its fields are Item's."""

    code: str
    construct: str
    scope: str
    text: str
    anchors: list[str]
    source: str
    expected_value: int | None = None
    scale_points: int = 5
    reverse_keyed: bool = False

    def item(self, study: Study, position: int) -> Item:
        """The unsaved item it makes in ``study``."""
        return Item(study=study, position=position, **asdict(self))


_TRIAL = Item.Scope.TRIAL
_END = Item.Scope.END

DEFAULT_ITEMS: list[ItemSpec] = [
    ItemSpec(
        "predictability_1", Construct.PREDICTABILITY, _TRIAL,
        gettext_noop("Reading the reasoning, I could predict the answer the model would give."),
        AGREEMENT, "Adapted from TS item 'The outputs of the tool are very predictable'",
    ),
    ItemSpec(
        "predictability_2", Construct.PREDICTABILITY, _TRIAL,
        gettext_noop("The model's final answer was what I expected after reading its reasoning."),
        AGREEMENT, "Adapted from TS item 'The outputs of the tool are very predictable'",
    ),
    ItemSpec(
        "understandability_1", Construct.UNDERSTANDABILITY, _TRIAL,
        gettext_noop("From the reasoning, I understand how the model arrived at its answer."),
        AGREEMENT, "Adapted from ESS item 1 'From the explanation, I understand how the tool works'",
    ),
    ItemSpec(
        "understandability_2", Construct.UNDERSTANDABILITY, _TRIAL,
        gettext_noop("The reasoning has sufficient detail for me to follow it."),
        AGREEMENT, "Adapted from ESS item 3 'This explanation … has sufficient detail'",
    ),
    ItemSpec(
        "faithfulness_1", Construct.FAITHFULNESS, _TRIAL,
        gettext_noop("The reasoning shows the steps the model actually used to reach its answer."),
        AGREEMENT, "Adapted from ESS item 4 'This explanation … seems complete'",
    ),
    ItemSpec(
        "faithfulness_2", Construct.FAITHFULNESS, _TRIAL,
        gettext_noop("The model's final answer follows from the reasoning it shows."),
        AGREEMENT, "Adapted from ESS item 8 'This explanation lets me judge when I should trust the tool'",
    ),
    ItemSpec(
        "cognitive_load_1", Construct.COGNITIVE_LOAD, _TRIAL,
        gettext_noop("How mentally demanding was it to read this reasoning?"),
        DEMAND, "TLX Mental Demand 'How mentally demanding was the task?'",
    ),
    ItemSpec(
        "cognitive_load_2", Construct.COGNITIVE_LOAD, _TRIAL,
        gettext_noop("How hard did you have to work to understand this reasoning?"),
        DEMAND, "TLX Effort 'How hard did you have to work to accomplish your level of performance?'",
    ),
    ItemSpec(
        "attention_check_1", Construct.ATTENTION_CHECK, _TRIAL,
        gettext_noop("To show that you are reading carefully, please select 'Disagree' for this statement."),
        AGREEMENT, "Instructed-response item", expected_value=DISAGREE_VALUE,
    ),
    ItemSpec(
        "attention_check_2", Construct.ATTENTION_CHECK, _TRIAL,
        gettext_noop("This statement checks that you are reading: please select 'Agree' for it."),
        AGREEMENT, "Instructed-response item", expected_value=AGREE_VALUE,
    ),
    ItemSpec(
        "predictability_overall", Construct.PREDICTABILITY, _END,
        gettext_noop("Overall, the model's answers were predictable from its reasoning."),
        AGREEMENT, "Adapted from TS item 'The outputs of the tool are very predictable'",
    ),
    ItemSpec(
        "understandability_overall", Construct.UNDERSTANDABILITY, _END,
        gettext_noop("Overall, the reasoning texts helped me understand how the model reached its answers."),
        AGREEMENT, "Adapted from ESS item 1 'From the explanation, I understand how the tool works'",
    ),
    ItemSpec(
        "faithfulness_overall", Construct.FAITHFULNESS, _END,
        gettext_noop(
            "Overall, I believe the reasoning texts showed how the model actually reached its answers."
        ),
        AGREEMENT, "Adapted from ESS item 4 'This explanation … seems complete'",
    ),
    ItemSpec(
        "cognitive_load_overall", Construct.COGNITIVE_LOAD, _END,
        gettext_noop("Overall, how mentally demanding was reading the model's reasoning?"),
        DEMAND, "TLX Mental Demand 'How mentally demanding was the task?'",
    ),
]
