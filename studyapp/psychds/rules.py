"""The Psych-DS rules this project writes and checks packages by, read from the copied schema model
(``schema/psych-ds-1.5.0.json``, see ``schema/PROVENANCE.md``) rather than restated here, so that a new
schema version is a new file, not an edit of our code. No Django: the validator and the tests use it
alone."""

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_VERSION = "1.5.0"
SCHEMA_DIR = Path(__file__).with_name("schema")
SCHEMA_PATH = SCHEMA_DIR / f"psych-ds-{SCHEMA_VERSION}.json"
SCHEMAORG_PATH = SCHEMA_DIR / "schemaorg-excerpt.json"


@cache
def schema() -> dict[str, Any]:
    """The Psych-DS schema model (meta, objects, rules)."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@cache
def schemaorg() -> dict[str, Any]:
    """The schema.org classes and properties the package uses (an excerpt of the model's copy)."""
    return json.loads(SCHEMAORG_PATH.read_text(encoding="utf-8"))


def datafile_rule() -> dict[str, Any]:
    """``rules.files.tabular_data.data.Datafile``: where data files go and how they are named."""
    return schema()["rules"]["files"]["tabular_data"]["data"]["Datafile"]


def datafile_pattern() -> re.Pattern[str]:
    return re.compile(datafile_rule()["fileRegex"])


def official_keywords() -> frozenset[str]:
    """The file-name keywords the schema defines (``meta.context...keywords``); others earn a warning."""
    return frozenset(schema()["meta"]["context"]["context"]["properties"]["keywords"]["properties"])


def core_rules() -> dict[str, dict[str, Any]]:
    """``rules.files.common.core``: the files and folders at a dataset's top level, required or
    recommended (``level``)."""
    return schema()["rules"]["files"]["common"]["core"]


def metadata_rule() -> dict[str, Any]:
    """``rules.compiled_metadata.CompiledMetadata``: the metadata's required and recommended fields,
    its JSON-LD namespace, and that it must describe every column."""
    return schema()["rules"]["compiled_metadata"]["CompiledMetadata"]


def metadata_fields() -> dict[str, dict[str, Any]]:
    """``objects.metadata``: each metadata field's definition and JSON type."""
    return schema()["objects"]["metadata"]


def error(name: str) -> dict[str, Any]:
    """An entry of ``rules.errors`` (``code``, ``level``, ``reason``), by its name in the schema."""
    return schema()["rules"]["errors"][name]
