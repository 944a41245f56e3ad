"""The OpenAPI schema's error responses, added to every operation (drf-spectacular postprocessing
hook): what a client gets besides 200, so a generated client or schemathesis knows them."""

from __future__ import annotations

from typing import Any

DETAIL = {
    "type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"],
    "description": "What went wrong, in words.",
}
FIELD_ERRORS = {
    "type": "object", "additionalProperties": {
        "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
    },
    "description": "Parameter name -> what is wrong with it.",
}
ERRORS: dict[str, tuple[str, dict]] = {
    "400": ("A parameter is empty, unknown or has a value it cannot take (the body says which).",
            FIELD_ERRORS),
    "401": ("No credentials: send a token (Authorization: Token <key>) or log in.", DETAIL),
    "403": ("Signed in, but not a researcher (staff or the researchers group).", DETAIL),
    "404": ("No such study (or dataset).", DETAIL),
    "429": ("Too many requests from this client; try again later.", DETAIL),
}


def add_error_responses(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """Add the error responses every researcher endpoint can give; a response an operation documents
    itself is left as it is."""
    for path in result.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            for status, (text, schema) in ERRORS.items():
                content = {"application/json": {"schema": schema}}
                responses.setdefault(status, {"description": text, "content": content})
    return result
