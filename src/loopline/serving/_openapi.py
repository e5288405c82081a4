"""The service's OpenAPI document: request bodies from the model's schema, errors, security.

FastAPI describes what its decorators know; the request bodies of ``/predict`` and
``/invocations`` are read by hand (to bound their size and to check them against the model's
schema), so their description is written here from the primary model's ``Schema``: one
object per record, a property per feature with its JSON type, the required fields, and under
the strict policy no other field and only the known categories. The document is rebuilt
when the primary model's version changes (a hot swap may change the schema).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..components import ColumnSchema, Schema

__all__ = ["ERROR_STATUSES", "error_responses", "json_body", "with_model_schema"]

#: What each error status means, as the document says it.
ERROR_STATUSES: dict[int, str] = {
    400: "The body is not JSON.",
    401: "Missing or wrong bearer token.",
    403: "Administrative endpoints are off (the server has no admin token).",
    404: "No such model, alias or version.",
    409: "The registry refuses the change now.",
    413: "The body (or its number of records) is over the server's limit.",
    422: "The body is malformed, or its values do not fit the model (each problem listed).",
    500: "The model or the server failed (counted in the metrics and the error rate).",
    503: "No model is loaded yet.",
}

_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "``{detail, hint}``, or for a request body ``{error, message, hint, "
    "total_errors, errors: [{row, field, message, value}]}``.",
    "properties": {
        "detail": {"description": "Text, or FastAPI's list of body validation errors."},
        "hint": {"type": ["string", "null"]},
        "error": {"type": "string"},
        "message": {"type": "string"},
        "total_errors": {"type": "integer"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route for these error statuses (JSON bodies)."""
    return {
        status: {
            "description": ERROR_STATUSES[status],
            "content": {"application/json": {"schema": _ERROR_SCHEMA}},
        }
        for status in statuses
    }


def json_body(model: Any, description: str) -> dict[str, Any]:
    """``openapi_extra`` declaring a JSON request body of a pydantic type's schema."""
    from pydantic import TypeAdapter

    schema = TypeAdapter(model).json_schema(ref_template="#/components/schemas/{model}")
    definitions = schema.pop("$defs", {})
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": schema}},
        },
        "x-loopline-definitions": definitions,
    }


def with_model_schema(
    document: dict[str, Any], schema: Schema | None, *, strict: bool, secured: bool
) -> dict[str, Any]:
    """``document`` with the model's request bodies, security schemes and definitions."""
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for item in document.get("paths", {}).values():
        for operation in item.values():
            schemas.update(operation.pop("x-loopline-definitions", {}))
    components["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "The token given to 'loopline serve' (--token or --admin-token).",
        }
    }
    paths = document.get("paths", {})
    for path, item in paths.items():
        for operation in item.values():
            data = path in _DATA_PATHS or path.endswith("/infer")
            if path.startswith("/admin/") or (secured and data):
                operation["security"] = [{"bearer": []}]
    if schema is not None:
        schemas["Record"] = _record(schema, strict)
        for path, body in (("/predict", _loopline_body), ("/invocations", _mlflow_body)):
            if path in paths:
                paths[path]["post"]["requestBody"] = body(schema)
    return document


_DATA_PATHS = ("/predict", "/invocations", "/feedback")
_RECORD = {"$ref": "#/components/schemas/Record"}


def _record(schema: Schema, strict: bool) -> dict[str, Any]:
    """One record: a property per feature."""
    record: dict[str, Any] = {
        "type": "object",
        "description": "One record: the model's features by name.",
        "properties": {column.name: _property(column, strict) for column in schema.columns},
        "required": [column.name for column in schema.columns if column.required],
    }
    if strict:
        record["additionalProperties"] = False
    return record


def _property(column: ColumnSchema, strict: bool) -> dict[str, Any]:
    types: dict[str, Callable[[], dict[str, Any]]] = {
        "numeric": lambda: {"type": "number"},
        "boolean": lambda: {"type": "boolean"},
        "datetime": lambda: {"type": "string", "format": "date-time"},
        "categorical": lambda: (
            {"type": "string", "enum": list(column.categories)}
            if strict and column.categories is not None
            else {"type": "string", "maxLength": 10_000}
        ),
    }
    value = types[column.kind]()
    if column.kind == "numeric" and (column.min is not None or column.max is not None):
        value["description"] = (
            f"Seen in training: {column.min} to {column.max} (outside: a warning)."
        )
    if column.nullable:
        return {"anyOf": [value, {"type": "null"}]}
    return value


def _rows(schema: Schema) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["columns", "data"],
        "properties": {
            "columns": {
                "type": "array",
                "items": {"type": "string", "enum": schema.names},
                "uniqueItems": True,
                "minItems": len(schema.names),
                "maxItems": len(schema.names),
            },
            "data": {"type": "array", "minItems": 1, "items": {"type": "array"}},
            "index": {"type": "array"},
        },
    }


def _records() -> dict[str, Any]:
    return {"type": "array", "minItems": 1, "items": _RECORD}


_CSV = {
    "text/csv": {
        "schema": {"type": "string"},
        "example": "feature_a,feature_b\n1.0,red\n",
    }
}


def _loopline_body(schema: Schema) -> dict[str, Any]:
    body = {
        "oneOf": [
            _records(),
            {
                "type": "object",
                "required": ["records"],
                "properties": {"records": _records()},
                "additionalProperties": False,
            },
            _rows(schema),
        ]
    }
    return {
        "required": True,
        "description": "Records, or columns and rows of values; CSV with text/csv.",
        "content": {"application/json": {"schema": body}, **_CSV},
    }


def _mlflow_body(schema: Schema) -> dict[str, Any]:
    def one(key: str, value: dict[str, Any]) -> dict[str, Any]:
        return {"type": "object", "required": [key], "properties": {key: value}}

    body = {
        "oneOf": [
            one("dataframe_split", _rows(schema)),
            one("dataframe_records", _records()),
            one("instances", _records()),
            one("inputs", _records()),
        ]
    }
    return {
        "required": True,
        "description": "MLflow's scoring protocol (one of its four keys); CSV with text/csv.",
        "content": {"application/json": {"schema": body}, **_CSV},
    }
