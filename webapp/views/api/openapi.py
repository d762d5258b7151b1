"""The API's OpenAPI 3.1 document, generated from the routes and their `@operation` declarations.

Paths come from the url_map, inputs and answers from the pydantic models the
endpoints validate and answer with (`schemas.py`), so the document describes
what the code does. A route without a declaration is listed by
`undocumented_endpoints` (a test keeps that list empty).
"""
import re
from functools import cache

from flask import current_app, jsonify
from pydantic.json_schema import models_json_schema

from . import bp, schemas
from .operations import Operation, operation

PREFIX = "/api/v2/"
_STATUS_TEXT = {
    400: "Bad input",
    401: "No or bad credentials",
    403: "Not allowed",
    404: "Missing or not visible",
    405: "Method not allowed",
    409: "Conflict with the object's state",
    413: "Request body too large",
    422: "Understood but not processed (e.g. an image too large to decode)",
    429: "Too many attempts",
    502: "The capture's file or the thumbnail storage failed",
    503: "Unavailable for now (the job queue is down, or another request is making the thumbnail)",
}
_PAGING = [
    {"name": "page", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1}},
    {"name": "page_size", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
]


def _api_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(PREFIX):
            yield rule, app.view_functions[rule.endpoint]


def undocumented_endpoints(app) -> list[str]:
    """API endpoints that carry no `@operation` declaration."""
    return sorted({rule.endpoint for rule, view in _api_rules(app) if getattr(view, "operation", None) is None})


def _ref(model) -> dict:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(schema: dict) -> dict:
    return {"application/json": {"schema": schema}}


def _page(model) -> dict:
    return {
        "type": "object",
        "required": ["count", "next", "previous", "results"],
        "properties": {
            "count": {"type": "integer"},
            "next": {"type": ["string", "null"]},
            "previous": {"type": ["string", "null"]},
            "results": {"type": "array", "items": _ref(model)},
        },
    }


def _query_parameters(spec: Operation, components: dict) -> list[dict]:
    parameters = []
    if spec.query is not None:
        schema = components[spec.query.__name__]
        required = set(schema.get("required", []))
        for name, field_schema in schema["properties"].items():
            # A query string cannot carry null: an optional parameter is simply left out.
            variants = [v for v in field_schema.get("anyOf", []) if v != {"type": "null"}]
            if len(variants) == 1:
                field_schema = {**variants[0], **{k: v for k, v in field_schema.items() if k not in ("anyOf", "default")}}
            parameters.append({"name": name, "in": "query", "required": name in required, "schema": field_schema})
    if spec.paged:
        parameters.extend(_PAGING)
    return parameters


def _operation(spec: Operation, endpoint: str, method: str, components: dict) -> dict:
    answer = _page(spec.response) if spec.paged else (_ref(spec.response) if spec.response else {})
    responses = {str(spec.status): {"description": spec.summary, **({"content": _json(answer)} if answer else {})}}
    for status in spec.errors:
        responses[str(status)] = {"description": _STATUS_TEXT[status], "content": _json(_ref(schemas.Error))}
    document = {"operationId": endpoint.split(".", 1)[-1], "summary": spec.summary, "responses": responses}
    parameters = _query_parameters(spec, components)
    if parameters:
        document["parameters"] = parameters
    if spec.body is not None and method in ("post", "put", "patch"):
        document["requestBody"] = {"required": True, "content": _json(_ref(spec.body))}
    if spec.public:
        document["security"] = []
    return document


def _components(specs: list[Operation]) -> dict:
    models = {schemas.Error}
    for spec in specs:
        models.update(m for m in (spec.body, spec.query, spec.response) if m is not None)
    ordered = sorted(models, key=lambda m: m.__name__)
    modes = [(model, "validation" if issubclass(model, schemas.Input) else "serialization") for model in ordered]
    _, top = models_json_schema(modes, ref_template="#/components/schemas/{model}")
    return top.get("$defs", {})


def build_document(app) -> dict:
    """The OpenAPI document of `app`'s API routes."""
    routes = [(rule, view.operation) for rule, view in _api_rules(app) if getattr(view, "operation", None)]
    components = _components([spec for _, spec in routes])
    paths: dict[str, dict] = {}
    for rule, spec in routes:
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        item = paths.setdefault(path, {})
        if rule.arguments:
            item["parameters"] = [
                {"name": name, "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
                for name in sorted(rule.arguments)
            ]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            item[method.lower()] = _operation(spec, rule.endpoint, method.lower(), components)
    return {
        "openapi": "3.1.0",
        "info": {"title": "ami-sessions API", "version": "2"},
        "servers": [{"url": "/"}],
        "security": [{"token": []}, {"session": []}],
        "components": {
            "securitySchemes": {
                "token": {"type": "apiKey", "in": "header", "name": "Authorization",
                          "description": "`Token <token>` (see `flask create-token`)"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session",
                            "description": "Browser session; unsafe methods also need the X-CSRFToken header"},
            },
            "schemas": components,
        },
        "paths": paths,
    }


@cache
def _document_of(app) -> dict:
    return build_document(app)


@bp.get("/openapi.json")
@operation("This document", errors=(), public=True)
def openapi_document():
    return jsonify(_document_of(current_app._get_current_object()))
