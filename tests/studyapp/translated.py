"""Studies offered in German for tests: every text participants read that the platform does not already
have in German (the title, the stimuli and their texts, an item or heading of the study's own) given a
stand-in German version, told apart from the English by its prefix."""

from studyapp import languages
from studyapp.models import Study

PREFIX = "Auf Deutsch: "


def german(value: object) -> object:
    """The stand-in German version of a study's own text (each entry of a list)."""
    if isinstance(value, list):
        return [german(entry) for entry in value]
    return f"{PREFIX}{value}"


def offer_german(study: Study, *, leave_out: tuple[str, ...] = ()) -> Study:
    """Offer German after English, and give every text without a German version one, but the study's own
    fields named in ``leave_out``. Returns the study as stored."""
    Study.objects.filter(pk=study.pk).update(languages=["en", "de"])
    study.refresh_from_db()
    for _, row, fields in languages.texts_read(study):
        row = type(row).objects.get(pk=row.pk)  # as stored: an earlier save may have touched it
        lacking = [name for name in fields if not languages.is_translated(row, name, "de")
                   and not (isinstance(row, Study) and name in leave_out)]
        if lacking:
            given = {name: german(getattr(row, name)) for name in lacking}
            row.translations = {**row.translations, "de": {**row.translations.get("de", {}), **given}}
            if isinstance(row, Study):
                Study.objects.filter(pk=row.pk).update(translations=row.translations)
            else:
                row.save()
    study.refresh_from_db()
    return study
