"""The platform's catalogs are complete and served as written: every message of each language's .po file is
translated (none missing, none fuzzy or obsolete), keeps the placeholders of its English, and the
committed .mo (served as is: a fresh clone needs no gettext) holds exactly what the .po says. With GNU
gettext installed, the .po is also checked against the code: makemessages, run on a copy, finds no
message that it lacks."""

from __future__ import annotations

import ast
import gettext
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[1]
LOCALE = ROOT / "locale"
LANGUAGES = [code for code, _ in settings.LANGUAGES if code != "en"]  # English is the catalogs' source
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@dataclass
class Entry:
    """One message of a .po file."""

    context: str | None = None
    msgid: str = ""
    plural: str | None = None
    translations: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False


def read_po(path: Path) -> list[Entry]:
    """The messages of a .po file as makemessages writes it (blank lines between messages), the header
    left out."""
    entries = []
    for block in path.read_text(encoding="utf-8").strip().split("\n\n"):
        entry, key = Entry(), None
        for line in block.split("\n"):
            if line.startswith("#,"):
                entry.flags |= {flag.strip() for flag in line[2:].split(",")}
            elif line.startswith("#~"):
                entry.obsolete = True
            elif line.startswith("#"):
                continue
            elif line.startswith('"'):
                _append(entry, key, ast.literal_eval(line))
            else:
                key, _, value = line.partition(" ")
                _append(entry, key, ast.literal_eval(value))
        if entry.msgid or entry.obsolete:
            entries.append(entry)
    return entries


def _append(entry: Entry, key: str | None, text: str) -> None:
    if key == "msgctxt":
        entry.context = (entry.context or "") + text
    elif key == "msgid":
        entry.msgid += text
    elif key == "msgid_plural":
        entry.plural = (entry.plural or "") + text
    elif key is not None and key.startswith("msgstr"):
        index = int(key[7:-1]) if "[" in key else 0
        while len(entry.translations) <= index:
            entry.translations.append("")
        entry.translations[index] += text


def po_path(language: str, root: Path = LOCALE) -> Path:
    return root / language / "LC_MESSAGES" / "django.po"


def incomplete(entries: list[Entry]) -> list[str]:
    """What is wrong with a catalog's messages, each named by its English."""
    problems = []
    for entry in entries:
        if entry.obsolete:
            problems.append("obsolete (no longer in the code): remove it")
        elif "fuzzy" in entry.flags:
            problems.append(f"fuzzy (check the translation, then drop the flag): {entry.msgid!r}")
        elif not entry.translations or not all(entry.translations):
            problems.append(f"untranslated: {entry.msgid!r}")
        else:
            english = set(PLACEHOLDER.findall(entry.msgid)) | set(PLACEHOLDER.findall(entry.plural or ""))
            problems += [f"placeholders {sorted(found)} instead of {sorted(english)}: {entry.msgid!r}"
                         for t in entry.translations if (found := set(PLACEHOLDER.findall(t))) != english]
    return problems


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated(language):
    entries = read_po(po_path(language))
    assert len(entries) > 150
    assert incomplete(entries) == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_committed_mo_is_the_po_compiled(language):
    """What Django serves is the .mo: it must say what the .po says, message for message (a .po edited
    without compilemessages fails here)."""
    with (LOCALE / language / "LC_MESSAGES" / "django.mo").open("rb") as mo:
        served = gettext.GNUTranslations(mo)._catalog  # the compiled messages, as gettext reads them
    written = {}
    for entry in read_po(po_path(language)):
        key = f"{entry.context}\x04{entry.msgid}" if entry.context else entry.msgid
        if entry.plural is None:
            written[key] = entry.translations[0]
        else:
            written.update({(key, n): text for n, text in enumerate(entry.translations)})
    served = {key: text for key, text in served.items() if key != ""}  # the header
    assert served == written


def test_the_check_finds_what_is_missing(tmp_path):
    """The checks above cannot pass by checking nothing."""
    po = po_path("de").read_text(encoding="utf-8").replace(
        'msgstr "Weiter"', 'msgstr ""').replace('msgid "Facts"', '#, fuzzy\nmsgid "Facts"')
    (tmp_path / "django.po").write_text(po, encoding="utf-8")
    said = incomplete(read_po(tmp_path / "django.po"))
    assert said == ["untranslated: 'Continue'", "fuzzy (check the translation, then drop the flag): 'Facts'"]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("xgettext") is None, reason="makemessages needs GNU gettext (xgettext)")
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_catalog_has_every_message_of_the_code(tmp_path, language):
    """makemessages, run on a copy of the code with its catalogs, adds no message and drops none: a string
    marked for translation and not yet in the .po, or one removed from the code, fails here."""
    for name in ("studyapp", "templates", "tracestudy", "locale"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("traces", "analysis"):  # imported by the settings' apps, not read for messages
        (tmp_path / name).symlink_to(ROOT / name)
    shutil.copy(ROOT / "manage.py", tmp_path / "manage.py")
    environment = {**os.environ, "VAR_DIR": str(tmp_path / "var")}
    made = subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", language, "--add-location=file"],
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=300,
    )
    assert made.returncode == 0, made.stderr
    assert incomplete(read_po(po_path(language, tmp_path / "locale"))) == []
    assert {e.msgid for e in read_po(po_path(language, tmp_path / "locale"))} == {
        e.msgid for e in read_po(po_path(language))}
