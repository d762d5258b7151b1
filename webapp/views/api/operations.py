"""`@operation`: what an API endpoint accepts and answers, declared once.

The declaration is what `openapi.py` reads to describe the endpoint, and what
validates the request: the query string before the view runs (handed to the
view as `query`), the JSON body when the view asks for it with `read_body()`
(after it has looked up and checked its object, so an invisible object is a
404 whatever the body).
"""
import functools
from dataclasses import dataclass, field

from flask import current_app, request
from pydantic import BaseModel
from pydantic import ValidationError as SchemaError

from . import BadRequest, invalid_input, json_body


@dataclass(frozen=True)
class Operation:
    """One endpoint's contract: summary, inputs, answer and the errors it may give."""

    summary: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    paged: bool = False
    errors: tuple[int, ...] = (400, 401, 403, 404)
    public: bool = False
    extra: dict = field(default_factory=dict)


def operation(summary: str, **declared):
    """Declare an endpoint's contract; a view with a `query` model receives the validated `query`."""
    spec = Operation(summary, **declared)

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if spec.query is not None:
                kwargs["query"] = parse_query(spec.query)
            return view(*args, **kwargs)

        wrapper.operation = spec
        return wrapper

    return decorate


def _field_errors(error: SchemaError) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for item in error.errors():
        name = str(item["loc"][0]) if item["loc"] else "body"
        if item["type"] == "missing":
            message = f"A {name.replace('_', ' ')} is required."
        elif item.get("ctx", {}).get("error") is not None:
            message = str(item["ctx"]["error"])
        else:
            message = item["msg"]
        errors.setdefault(name, []).append(message)
    return errors


def read_body() -> dict:
    """The JSON body validated by the endpoint's declared `body` model: the fields sent, cleaned; else a 400."""
    model = current_app.view_functions[request.endpoint].operation.body
    try:
        return model.model_validate(json_body()).model_dump(exclude_unset=True)
    except SchemaError as error:
        raise invalid_input(_field_errors(error)) from None


def parse_query(model: type[BaseModel]) -> BaseModel:
    """The query string validated by `model` (empty values count as absent); a 400 naming the parameter otherwise."""
    values = {name: value for name, value in request.args.items() if value != ""}
    try:
        return model.model_validate(values)
    except SchemaError as error:
        errors = _field_errors(error)
        raise BadRequest(f"Invalid query parameter {next(iter(errors))!r}.", errors) from None
