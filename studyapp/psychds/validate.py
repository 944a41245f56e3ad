"""A Psych-DS package (a zip) checked against the copied schema model (:mod:`.rules`), each issue under the
code the schema gives it (``rules.errors``), so that it reads as the official validator's would.

The official validator (github.com/psych-ds/psychds-validator) is a Deno program that cannot run here;
this is its checks, in Python, for what a package needs:

- the top-level files and folders (``rules.files.common.core``): ``dataset_description.json`` and
  ``data/`` required, README, CHANGES and the other folders recommended;
- data files (``rules.files.tabular_data.data.Datafile``): under ``data/``, ``.csv``, named by the
  ``fileRegex`` (matched as the validator does: the first match must be the whole name), with official
  keywords only (``meta.context.keywords``) or a warning;
- the CSV rules (``objects.extensions.csv`` and the CSV errors): UTF-8, a header row, no repeated
  header, every row as long as the header, unique ``row_id`` values;
- the metadata (``rules.compiled_metadata``): JSON, a schema.org ``@context``, ``@type`` Dataset, the
  required fields (a JSON Schema made from the schema's fields and ``objects.metadata`` types, checked
  with jsonschema), the recommended ones (a warning each), every CSV column named in
  ``variableMeasured`` and every variable in some CSV (``containsAllColumns``), and the schema.org
  checks (properties of their type, objects typed and of a type the property takes; warnings, as in
  the official validator), against ``schema/schemaorg-excerpt.json``.

Two departures: a value of the wrong JSON type for its field (``objects.metadata``), which the official
validator does not check, is a warning under this project's own code ``INVALID_METADATA_VALUE``; and
metadata inheritance (sidecar ``*_data.json`` and ``file_metadata.json`` files) is not applied: such
files are reported as not checked. Missing recommended fields are reported (``JSON_KEY_RECOMMENDED``),
as the schema defines; the official validator does not report them. No Django here.
"""

import csv
import io
import json
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from jsonschema import Draft202012Validator

from .rules import (
    core_rules,
    datafile_pattern,
    datafile_rule,
    error,
    metadata_fields,
    metadata_rule,
    official_keywords,
    schemaorg,
)

DESCRIPTION = "dataset_description.json"
NAMESPACES = ("http://schema.org/", "https://schema.org/")
SHOWN = 5  # rows named in a CSV issue; the rest are counted


@dataclass(frozen=True)
class Issue:
    code: str  # as in the schema's rules.errors (or a core rule), or INVALID_METADATA_VALUE
    level: str  # error or warning
    path: str  # the file in the dataset; "" for the dataset as a whole
    detail: str

    def __str__(self) -> str:
        return f"{self.level} {self.code} {self.path or '(dataset)'}: {self.detail}"


def _issue(name: str, path: str, detail: str) -> Issue:
    entry = error(name)
    return Issue(entry["code"], entry["level"].rstrip(","), path, detail)  # 1.5.0 writes "warning,"


def errors(issues: Iterable[Issue]) -> list[Issue]:
    return [issue for issue in issues if issue.level == "error"]


# --- metadata ------------------------------------------------------------------------------------


def _is_schemaorg(context: object) -> bool:
    return isinstance(context, str) and context.rstrip("/") in {ns.rstrip("/") for ns in NAMESPACES}


def _term(key: str, schemaorg_context: bool) -> str | None:
    """A key's schema.org term: a full schema.org IRI, or a plain key under a schema.org ``@context``;
    None for a key in another (or no) namespace."""
    for namespace in NAMESPACES:
        if key.startswith(namespace):
            return key.removeprefix(namespace)
    return key if schemaorg_context and ":" not in key else None


def _type(node: dict, schemaorg_context: bool) -> str | None:
    """A node's type, ``@type`` or (schema.org's alias) ``type``, without the namespace."""
    value = node.get("@type", node.get("type") if schemaorg_context else None)
    if isinstance(value, list):
        value = value[0] if value else None
    return None if value is None else _term(str(value), True)


def _terms(node: dict, schemaorg_context: bool) -> tuple[dict[str, Any], list[str]]:
    """A node's properties by schema.org term, and the keys that are in another namespace."""
    terms, foreign = {}, []
    for key, value in node.items():
        if key.startswith("@") or (key == "type" and schemaorg_context):
            continue
        term = _term(key, schemaorg_context)
        if term is None:
            foreign.append(key)
        else:
            terms[term] = value
    return terms, foreign


def _ancestors(name: str) -> list[str]:
    """The class and those above it (``is_a``), as far as the excerpt of schema.org knows."""
    classes, chain = schemaorg()["classes"], []
    while name and name not in chain:
        chain.append(name)
        name = classes.get(name, {}).get("is_a")
    return chain


def _properties(type_name: str) -> set[str]:
    classes = schemaorg()["classes"]
    return {slot for name in _ancestors(type_name) for slot in classes.get(name, {}).get("slots", [])}


def _range(term: str) -> set[str]:
    slot = schemaorg()["slots"][term]
    return {slot["range"]} if "range" in slot else {choice["range"] for choice in slot.get("any_of", [])}


def _schemaorg_issues(node: dict, type_name: str, where: str, path: str, context: bool) -> Iterator[Issue]:
    """The official validator's schema.org checks (warnings): every property one of its type's, every
    object inside typed, with a type (or a subtype of one) the property takes. ``context``: whether the
    document's @context is schema.org, which makes plain keys schema.org terms."""
    terms, foreign = _terms(node, context)
    for key in foreign:
        yield _issue("UnknownNamespace", path, f"{where}{key} is not a schema.org term.")
    allowed = _properties(type_name)
    for term, value in terms.items():
        if term not in allowed:
            yield _issue("InvalidSchemaorgProperty", path, f"{where}{term} is not a property of {type_name}.")
            continue
        for obj in value if isinstance(value, list) else [value]:
            if not isinstance(obj, dict) or set(obj) in ({"@id"}, {"@value"}):
                continue  # text, numbers and references need no type
            obj_type = _type(obj, context)
            if obj_type is None:
                yield _issue("ObjectTypeMissing", path, f"An object in {where}{term} has no @type.")
                continue
            if not {*_range(term), "Text", "URL"} & set(_ancestors(obj_type)):
                yield _issue("InvalidObjectType", path, f"{where}{term} does not take a {obj_type}.")
            yield from _schemaorg_issues(obj, obj_type, f"{where}{term}.", path, context)


def _metadata_schema() -> dict[str, Any]:
    """A JSON Schema of the metadata's fields: the required ones (rules.compiled_metadata.fields) and each
    field's JSON type (objects.metadata)."""
    fields = metadata_rule()["fields"]
    properties = {}
    for name, field in metadata_fields().items():
        properties[name] = {"type": field["type"], **({"items": field["items"]} if "items" in field else {})}
    return {
        "type": "object",
        "required": [name for name, level in fields.items() if level == "required"],
        "properties": properties,
    }


def check_description(description: object, path: str = DESCRIPTION) -> list[Issue]:
    """The metadata rules (rules.compiled_metadata) and the schema.org checks on a parsed
    ``dataset_description.json``."""
    if not isinstance(description, dict):
        return [_issue("InvalidJsonldFormatting", path, "The metadata must be one JSON object.")]
    schemaorg_context = _is_schemaorg(description.get("@context"))
    terms, _ = _terms(description, schemaorg_context)
    issues = []
    for problem in sorted(Draft202012Validator(_metadata_schema()).iter_errors(terms), key=str):
        if problem.validator == "required":
            context = "" if schemaorg_context else " (without a schema.org @context no plain key counts)"
            issues.append(_issue("JsonKeyRequired", path, problem.message + context))
        else:
            where = ".".join(map(str, problem.absolute_path))
            issues.append(Issue("INVALID_METADATA_VALUE", "warning", path, f"{where}: {problem.message}"))
    recommended = [name for name, level in metadata_rule()["fields"].items() if level == "recommended"]
    issues += [_issue("JsonKeyRecommended", path, f"No {name}.") for name in recommended if name not in terms]
    dataset_type = _type(description, schemaorg_context)
    if dataset_type is None:
        issues.append(_issue("MissingDatasetType", path, 'No "@type".'))
    elif dataset_type != "Dataset":
        issues.append(_issue("IncorrectDatasetType", path, f'"@type" is {dataset_type}, not Dataset.'))
    else:
        issues += _schemaorg_issues(description, "Dataset", "", path, schemaorg_context)
    return issues


def variable_names(description: object) -> set[str]:
    """The column names ``variableMeasured`` lists: plain names, or PropertyValues' ``name``."""
    if not isinstance(description, dict):
        return set()
    context = _is_schemaorg(description.get("@context"))
    variables = _terms(description, context)[0].get("variableMeasured", [])
    names = set()
    for variable in variables if isinstance(variables, list) else [variables]:
        name = _terms(variable, context)[0].get("name") if isinstance(variable, dict) else variable
        if isinstance(name, str):
            names.add(name)
    return names


# --- data files ----------------------------------------------------------------------------------


def _elements(name: str) -> tuple[dict[str, str], str, str]:
    """A file name's keywords, suffix and extension, split as the official validator splits them."""
    *pairs, last = name.split("_")
    keywords = {}
    for pair in pairs:
        key, _, value = pair.partition("-")
        keywords[key] = value
    suffix, dot, extension = last.partition(".")
    return keywords, suffix, dot + extension


def _name_issues(path: str) -> list[Issue]:
    rule = datafile_rule()
    name = PurePosixPath(path).name
    keywords, _, extension = _elements(name)
    if extension not in rule["extensions"]:
        return [_issue("ExtensionMismatch", path, f"A data file's extension is one of {rule['extensions']}.")]
    issues = []
    match = datafile_pattern().search(name)
    if match is None or match.group(0) != name:
        issues.append(_issue("FilenameKeywordFormattingError", path, f"Not {rule['fileRegex']}."))
    unofficial = sorted(set(keywords) - official_keywords())
    if unofficial:
        issues.append(_issue("FilenameUnofficialKeywordWarning", path, f"Keywords {unofficial}."))
    return issues


def _rows_named(rows: list[int]) -> str:
    named = ", ".join(map(str, rows[:SHOWN]))
    return named + (f" ({len(rows)} in all)" if len(rows) > SHOWN else "")


def _csv_issues(raw: IO[bytes], path: str) -> tuple[list[str], list[Issue]]:
    """A CSV's header and what is wrong with it, read a row at a time (a data file may be large)."""
    header: list[str] = []
    uneven: list[int] = []
    row_ids: set[str] = set()
    repeated_ids: list[int] = []
    try:
        reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8", newline=""), strict=True)
        header = next(reader, [])
        at = header.index("row_id") if "row_id" in header else None
        for line, row in enumerate(reader, start=2):
            if len(row) != len(header):
                uneven.append(line)
            elif at is not None:
                if row[at] in row_ids:
                    repeated_ids.append(line)
                row_ids.add(row[at])
    except UnicodeDecodeError as problem:
        return header, [_issue("CSVFormattingError", path, f"Not UTF-8 ({problem}).")]
    except csv.Error as problem:
        return header, [_issue("CSVFormattingError", path, str(problem))]
    issues = []
    if not header:
        issues.append(_issue("CSVHeaderMissing", path, "No header row."))
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        issues.append(_issue("CSVHeaderRepeated", path, f"Repeated: {repeated}."))
    if uneven and header:
        issues.append(_issue("CSVHeaderLengthMismatch", path,
                             f"Rows {_rows_named(uneven)} do not have the header's {len(header)} cells."))
    if repeated_ids:
        issues.append(_issue("RowidValuesNotUnique", path,
                             f"Rows {_rows_named(repeated_ids)} repeat a row_id."))
    return header, issues


# --- the package ---------------------------------------------------------------------------------


def _root(names: list[str]) -> str:
    """The dataset's folder in the zip: its top level, or the one folder everything is in."""
    tops = {name.split("/", 1)[0] for name in names}
    if DESCRIPTION not in names and len(tops) == 1 and all("/" in name for name in names):
        return tops.pop() + "/"
    return ""


def _core_issues(paths: set[str]) -> list[Issue]:
    """The top-level files and folders (rules.files.common.core) that are missing."""

    def present(rule: dict) -> bool:
        if rule.get("directory"):
            return any(path.startswith(rule["path"].strip("/") + "/") for path in paths)
        if "stem" in rule:
            return any(rule["stem"] + extension in paths for extension in rule["extensions"])
        return rule["path"].lstrip("/") in paths

    rules = core_rules()
    return [
        Issue(rule["code"], rule["level"], rule.get("path", rule.get("stem", "")).lstrip("/"), rule["reason"])
        for rule in rules.values()
        if not present(rule) and all(present(rules[need]) for need in _requires(rule))
    ]


def _core_files() -> set[str]:
    """The top-level files the schema names (its folders aside)."""
    names = set()
    for rule in core_rules().values():
        if "stem" in rule:
            names.update(rule["stem"] + extension for extension in rule["extensions"])
        elif not rule.get("directory"):
            names.add(rule["path"].lstrip("/"))
    return names


def _requires(rule: dict) -> list[str]:
    need = rule.get("requires", [])
    return [need] if isinstance(need, str) else need


def _is_datafile(path: str) -> bool:
    """Under data/ with the data files' suffix (rules.files.tabular_data.data.Datafile); its extension is
    checked apart (a JSON file there is sidecar metadata, not a data file)."""
    _, suffix, extension = _elements(PurePosixPath(path).name)
    return path.startswith("data/") and suffix == datafile_rule()["suffix"] and extension != ".json"


def _datafile_issues(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: str, variables: set[str] | None
) -> tuple[list[str], list[Issue]]:
    """A data file's header and issues: its name, its CSV, and (with metadata) columns not described."""
    issues = _name_issues(path)
    if not path.endswith(".csv"):
        return [], issues
    if info.file_size == 0:
        return [], [*issues, _issue("FileEmpty", path, "0 bytes.")]
    with archive.open(info) as raw:
        header, problems = _csv_issues(raw, path)
    missing = [name for name in header if variables is not None and name not in variables]
    if missing:
        problems.append(_issue("CsvColumnMissingFromMetadata", path, f"Not in variableMeasured: {missing}."))
    return header, issues + problems


def _read_description(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[object, list[Issue]]:
    try:
        description = json.loads(archive.read(info).decode("utf-8"))
    except UnicodeDecodeError as problem:
        return None, [_issue("JsonEncodingError", DESCRIPTION, str(problem))]
    except json.JSONDecodeError as problem:
        return None, [_issue("InvalidJsonFormatting", DESCRIPTION, str(problem))]
    return description, check_description(description)


def validate_package(source: str | Path | IO[bytes]) -> list[Issue]:
    """Every issue of a package zip, errors and warnings; a valid package has no errors."""
    with zipfile.ZipFile(source) as archive:
        members = {info.filename: info for info in archive.infolist() if not info.is_dir()}
        root = _root(list(members))
        paths = {name.removeprefix(root): info for name, info in members.items() if name.startswith(root)}
        issues = _core_issues(set(paths))
        issues += [_issue("WrongMetadataLocation", path, "Not at the top level.")
                   for path in paths if path.endswith("/" + DESCRIPTION)]
        description, found = (None, []) if DESCRIPTION not in paths else _read_description(
            archive, paths[DESCRIPTION])
        issues += found
        variables = variable_names(description) if description is not None else None
        columns: set[str] = set()
        valid_files = 0
        for path, info in sorted(paths.items()):
            if _is_datafile(path):
                header, found = _datafile_issues(archive, info, path, variables)
                columns.update(header)
                valid_files += not errors(found)
                issues += found
            elif path not in _core_files():
                detail = "Neither a data file nor a top-level file the schema names (sidecars: not applied)."
                issues.append(_issue("FileNotChecked", path, detail))
    if any(path.startswith("data/") for path in paths) and not valid_files:
        rule = datafile_rule()
        issues.append(Issue(rule["code"], rule["level"], "data", rule["reason"]))
    unused = sorted((variables or set()) - columns)
    if unused:
        issues.append(_issue("VariableMissingFromCsvColumns", DESCRIPTION, f"In no CSV: {unused}."))
    return issues
