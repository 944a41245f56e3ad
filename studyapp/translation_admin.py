"""The admin's fields for a study's texts in its other languages: one per text and language ("German:
consent text"), in a section per language, kept in the row's ``translations`` (which studyapp.languages
reads). A list (anchors, facts, candidates) is entered one entry per line. There is a section for each of
the platform's languages but the study's own, whether the study offers it yet or not: texts can be
translated before the language is offered, and the study cannot go live offering it until they are."""

from functools import cache

from django import forms
from django.conf import settings
from django.db import models
from django.http import HttpRequest

from .models import TranslatedModel, platform_languages

SEPARATOR = "__"
LIST_HELP = "One per line, as many as in the study's own language, in the same order."


def field_name(name: str, language: str) -> str:
    """The form field of one text in one language: ``consent_text__de``."""
    return f"{name}{SEPARATOR}{language}"


def _is_list(model: type[TranslatedModel], name: str) -> bool:
    return isinstance(model._meta.get_field(name), models.JSONField)


def _shown(value: object) -> object:
    """A translation as its field shows it: a list one entry per line."""
    return "\n".join(value) if isinstance(value, list) else value


def _entered(model: type[TranslatedModel], name: str, raw: str) -> object:
    """What a field holds as the translation: a list's non-empty lines, else the text; empty: none."""
    if _is_list(model, name):
        return [line.strip() for line in raw.splitlines() if line.strip()]
    return raw.strip()


class TranslationsForm(forms.ModelForm):
    """A model form that edits the row's ``translations`` through a field per text and language
    (translations_form declares them for a model). An empty field: no translation of that text."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        given = self.instance.translations if isinstance(self.instance.translations, dict) else {}
        for language, texts in given.items():
            for name, value in (texts.items() if isinstance(texts, dict) else ()):
                if field_name(name, language) in self.fields:
                    self.initial[field_name(name, language)] = _shown(value)

    def clean(self) -> dict:
        """Write the texts of the languages this form shows into the row's translations; the model's own
        validation (TranslatedModel.translation_problems) then checks them."""
        cleaned = super().clean()
        model = self._meta.model
        shown = self._meta.fields if isinstance(self._meta.fields, list | tuple) else list(self.fields)
        given = self.instance.translations
        translations = {code: dict(texts) for code, texts in given.items() if isinstance(texts, dict)} \
            if isinstance(given, dict) else {}
        for language in platform_languages():
            names = [name for name in model.TRANSLATED_FIELDS if field_name(name, language) in shown]
            texts = translations.get(language, {})
            for name in names:
                value = _entered(model, name, cleaned.get(field_name(name, language)) or "")
                if value:
                    texts[name] = value
                else:
                    texts.pop(name, None)
            if texts:
                translations[language] = texts
            else:
                translations.pop(language, None)
        self.instance.translations = translations
        return cleaned


@cache
def translations_form(model: type[TranslatedModel]) -> type[TranslationsForm]:
    """A TranslationsForm for `model`, with a field for each of its translated texts in each of the
    platform's languages (the admin shows those of the languages other than the study's own)."""
    declared: dict[str, forms.Field] = {}
    for language, language_name in platform_languages().items():
        for name in model.TRANSLATED_FIELDS:
            field = model._meta.get_field(name)
            lines = _is_list(model, name)
            long = lines or isinstance(field, models.TextField)
            declared[field_name(name, language)] = forms.CharField(
                required=False, max_length=field.max_length, label=f"{language_name}: {field.verbose_name}",
                widget=forms.Textarea(attrs={"rows": 5 if lines else 3}) if long
                else forms.TextInput(attrs={"size": 80}),
                help_text=LIST_HELP if lines else "",
            )
    meta = type("Meta", (), {"model": model, "exclude": ["translations"]})
    return type(f"{model.__name__}TranslationsForm", (TranslationsForm,), {**declared, "Meta": meta})


def _own_language(obj: object) -> str:
    """The language of the study the row (or the inline's parent) belongs to; the platform's for a new one."""
    study = obj.texts_study() if isinstance(obj, TranslatedModel) else None
    return study.own_language if study is not None else settings.LANGUAGE_CODE


class TranslatedAdminMixin:
    """For a ModelAdmin or an inline of a TranslatedModel: its form edits the translations (TranslationsForm),
    in a section per language other than the study's own, after the row's own fields."""

    model: type[TranslatedModel]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.form = translations_form(self.model)

    def get_fieldsets(self, request: HttpRequest, obj: object = None) -> list:
        def own(field: object) -> bool:
            return not (isinstance(field, str) and (field == "translations" or SEPARATOR in field))

        fieldsets = [(title, {**options, "fields": [f for f in options["fields"] if own(f)]})
                     for title, options in super().get_fieldsets(request, obj)]
        for language, name in platform_languages().items():
            if language != _own_language(obj):
                fieldsets.append((f"{name} ({language})", {
                    "fields": [field_name(text, language) for text in self.model.TRANSLATED_FIELDS],
                    "description": f"For participants who read the study in {name}. Leave a text empty where "
                                   "it is the platform's default (the default consent text, questionnaire or "
                                   f"heading): the platform has those in {name}. A study offering {name} "
                                   "cannot go live until every other text its participants read is here.",
                }))
        return fieldsets
