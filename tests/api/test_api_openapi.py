"""The OpenAPI document matches the routes, and a bounded fuzz of it finds no server error."""
import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance

from tests.api_helpers import token_for
from tests.conftest import add_deployment, add_project, add_user, make_app
from webapp import jobs
from webapp.extensions import db
from webapp.views.api.openapi import undocumented_endpoints


def _route_operations(app) -> set[tuple[str, str]]:
    operations = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v2/"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        operations.update((path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"})
    return operations


def test_document_describes_exactly_the_routes(sqlite_app, client):
    response = client.get("/api/v2/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.")
    documented = {(path, method) for path, item in document["paths"].items()
                  for method in item if method != "parameters"}
    assert documented == _route_operations(sqlite_app)


def test_every_api_route_declares_its_contract(sqlite_app):
    assert undocumented_endpoints(sqlite_app) == []


def test_document_takes_names_from_the_code(sqlite_app, client):
    from webapp.grouping import KEYINGS
    from webapp.job_types import JOB_TYPES
    from webapp.models import JOB_STATUSES
    from webapp.permissions import ROLES

    schemas = client.get("/api/v2/openapi.json").get_json()["components"]["schemas"]
    assert schemas["ProjectCreate"]["properties"]["session_keying"]["enum"] == list(KEYINGS)
    assert schemas["MemberInput"]["properties"]["role"]["enum"] == list(ROLES)
    assert schemas["Job"]["properties"]["job_type_key"]["enum"] == list(JOB_TYPES)
    assert schemas["Job"]["properties"]["status"]["enum"] == list(JOB_STATUSES)


def schemathesis_document(app) -> dict:
    with app.app_context():
        from webapp.views.api.openapi import build_document

        return build_document(app)


def _takes_input(document: dict, path: str, method: str) -> bool:
    item = document["paths"][path]
    return bool(item.get("parameters") or item[method].get("parameters") or item[method].get("requestBody"))


@pytest.fixture
def fuzz_target(tmp_path, request):
    """An app with one of everything (ids 1), outside any app context so each request gets its own."""
    app = make_app("sqlite", tmp_path, request)
    with app.app_context():
        admin = add_user("admin@example.org", superuser=True)
        token = token_for(admin)
        member = add_user("member@example.org")
        project = add_project("Fuzzed", members=[(member, "BasicMember")])
        station = add_deployment(project, "Station", data_source=str(tmp_path / "data"))
        jobs.create_job("regroup_events", station)
    yield app, token
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_fuzzed_requests_never_get_a_server_error(fuzz_target, mode):
    """Every operation of the document, valid and invalid inputs, as a superuser: never a 5xx,
    and every documented answer has the documented shape."""
    app, token = fuzz_target
    api = schemathesis.openapi.from_wsgi("/api/v2/openapi.json", app)
    operations = [result.ok() for result in api.get_all_operations()]
    fuzzed = {(op.path, op.method.lower()) for op in operations}
    # Schemathesis leaves out the document's own path; everything else is fuzzed.
    assert fuzzed == _route_operations(app) - {("/api/v2/openapi.json", "get")}
    document = schemathesis_document(app)
    for operation in operations:
        if mode == GenerationMode.NEGATIVE and not _takes_input(document, operation.path, operation.method.lower()):
            continue  # nothing a client sends could be invalid (the thumbnails listing, always 405)

        @given(case=operation.as_strategy(generation_mode=mode), existing=st.booleans())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case, existing):
            if existing:
                # Random ids almost never exist; half the cases aim at the fixture's objects (all id 1).
                for name, value in (case.path_parameters or {}).items():
                    if isinstance(value, int):
                        case.path_parameters[name] = 1
                if isinstance(case.body, dict) and isinstance(case.body.get("project_id"), int):
                    case.body["project_id"] = 1
            case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=[not_a_server_error, response_schema_conformance])

        fuzz()
