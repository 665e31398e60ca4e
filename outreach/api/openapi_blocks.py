"""Building blocks of the OpenAPI document, shared by its parts (openapi.py, openapi_discovery.py)."""
from __future__ import annotations

from typing import Any

from outreach.api.inputs import MAX_ID


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    return {**schema, "type": [schema["type"], "null"]}


def obj(properties: dict[str, Any], *, required: list[str] | None = None, closed: bool = True,
        description: str | None = None) -> dict[str, Any]:
    """An object schema; `required` defaults to every property (what the API answers always has them all)."""
    schema: dict[str, Any] = {"type": "object", "properties": properties,
                              "required": list(properties) if required is None else required}
    if closed:
        schema["additionalProperties"] = False
    if description:
        schema["description"] = description
    return schema


STR = {"type": "string"}
INT = {"type": "integer"}
ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
BOUND = {"type": "number", "minimum": -1e15, "maximum": 1e15}
NUM = {"type": "number"}
BOOL = {"type": "boolean"}
URL = {"type": "string", "format": "uri"}
TIME = {"type": "string", "format": "date-time"}
STR_LIST = {"type": "array", "items": STR}
LINES = {"description": "a list of strings, or one string with one item per line",
         "anyOf": [STR_LIST, STR]}


def _param(name: str, schema: dict[str, Any], description: str, where: str = "query") -> dict[str, Any]:
    return {"name": name, "in": where, "required": where == "path", "schema": schema, "description": description}


def _json(schema_name: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref(schema_name)}}}


def _path_id(name: str, what: str) -> dict[str, Any]:
    return _param(name, ID, f"the {what}'s id", where="path")


def _op(summary: str, tag: str, responses: dict[str, Any], *, params: list[dict[str, Any]] | None = None,
        body: str | None = None, listing: bool = False, write: bool = False, lookup: bool = False
        ) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "tags": [tag], "parameters": list(params or [])}
    if listing:
        operation["parameters"] += [{"$ref": "#/components/parameters/page"},
                                    {"$ref": "#/components/parameters/per_page"}]
    all_responses = {**responses, "401": {"$ref": "#/components/responses/Unauthorized"}}
    if listing or params:
        all_responses["400"] = {"$ref": "#/components/responses/BadRequest"}
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref(body)}}}
        all_responses["400"] = {"$ref": "#/components/responses/BadRequest"}
        all_responses["422"] = {"$ref": "#/components/responses/Invalid"}
    if write or tag != "meta":  # a personaliser's token reaches the review queue only: 403 anywhere else
        all_responses.setdefault("403", {"$ref": "#/components/responses/Forbidden"})
    if write and body is not None:
        all_responses.setdefault("409", {"$ref": "#/components/responses/Conflict"})
    if lookup:
        all_responses["404"] = {"$ref": "#/components/responses/NotFound"}
    operation["responses"] = dict(sorted(all_responses.items()))
    return operation
