"""The API's OpenAPI 3 document, kept by hand beside the routes (a test checks they match)."""
from flask import jsonify

from . import bp

_ERROR = {
    "type": "object",
    "required": ["detail"],
    "properties": {"detail": {"type": "string"}, "errors": {"type": "object"}},
}
_ID = {"type": "integer", "minimum": 1}
_TIME = {"type": ["string", "null"], "format": "date-time"}
_GAP = {"type": "integer", "minimum": 60, "maximum": 604800}
_KEYING = {"type": "string", "enum": ["date", "night", "run"]}
_ROLE = {"type": "string", "enum": ["BasicMember", "Researcher", "Identifier", "MLDataManager", "ProjectManager"]}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict) -> dict:
    return {"application/json": {"schema": schema}}


def _ok(description: str, schema: dict, status: str = "200") -> dict:
    responses = {status: {"description": description, "content": _json(schema)}}
    for code, text in (("400", "Bad input"), ("401", "No or bad credentials"), ("403", "Not allowed"),
                       ("404", "Missing or not visible")):
        responses[code] = {"description": text, "content": _json(_ref("Error"))}
    return responses


def _body(schema: dict) -> dict:
    return {"required": True, "content": _json(schema)}


def _path_id(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": _ID}


def _query(name: str, schema: dict) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema}


_PAGING = [_query("page", {"type": "integer", "minimum": 1}),
           _query("page_size", {"type": "integer", "minimum": 1, "maximum": 500})]


def _page(item: str) -> dict:
    return {
        "type": "object",
        "required": ["count", "results"],
        "properties": {
            "count": {"type": "integer"},
            "next": {"type": ["string", "null"]},
            "previous": {"type": ["string", "null"]},
            "results": {"type": "array", "items": _ref(item)},
        },
    }


SCHEMAS = {
    "Error": _ERROR,
    "Project": {
        "type": "object",
        "required": ["id", "name", "session_time_gap_seconds", "session_keying"],
        "properties": {
            "id": _ID, "name": {"type": "string"}, "description": {"type": "string"},
            "session_time_gap_seconds": {"type": "integer"}, "session_keying": _KEYING, "created_at": _TIME,
        },
    },
    "ProjectInput": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "description": {"type": "string"},
            "session_time_gap_seconds": _GAP,
            "session_keying": _KEYING,
        },
    },
    "MemberInput": {
        "type": "object",
        "required": ["email", "role"],
        "properties": {"email": {"type": "string"}, "role": _ROLE},
    },
    "Membership": {
        "type": "object",
        "properties": {"project_id": _ID, "user_id": _ID, "email": {"type": "string"}, "role": _ROLE},
    },
    "Deployment": {
        "type": "object",
        "required": ["id", "name", "project_id", "data_source", "captures_count", "events_count",
                     "first_capture_timestamp", "last_capture_timestamp"],
        "properties": {
            "id": _ID, "name": {"type": "string"}, "project_id": {"type": ["integer", "null"]},
            "data_source": {"type": "string"},
            "data_source_display": {"type": "string",
                                    "description": "The data source relative to its storage source"},
            "session_time_gap_seconds": {"type": ["integer", "null"]},
            "effective_session_time_gap_seconds": {"type": ["integer", "null"]},
            "captures_count": {"type": "integer"}, "events_count": {"type": "integer"},
            "first_capture_timestamp": _TIME, "last_capture_timestamp": _TIME,
        },
    },
    "DeploymentCreate": {
        "type": "object",
        "required": ["project_id", "name", "data_source"],
        "properties": {
            "project_id": _ID,
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "data_source": {"type": "string", "description": "A folder or s3://bucket/prefix inside a storage source granted to the project"},
            "session_time_gap_seconds": {"oneOf": [_GAP, {"type": "null"}]},
        },
    },
    "DeploymentUpdate": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "data_source": {"type": "string"},
            "session_time_gap_seconds": {"oneOf": [_GAP, {"type": "null"}],
                                         "description": "null = use the project's gap"},
        },
    },
    "StorageSource": {
        "type": "object",
        "required": ["id", "name", "location", "has_credentials", "open_to_all_projects", "project_ids"],
        "properties": {
            "id": _ID, "name": {"type": "string"}, "location": {"type": "string"},
            "endpoint_url": {"type": ["string", "null"]}, "has_credentials": {"type": "boolean"},
            "open_to_all_projects": {"type": "boolean"},
            "project_ids": {"type": "array", "items": _ID}, "created_at": _TIME,
        },
    },
    "StorageSourceInput": {
        "type": "object",
        "required": ["name", "location"],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "location": {"type": "string", "maxLength": 1024,
                         "description": "A folder under DATA_SOURCE_ROOTS or s3://bucket/prefix"},
            "open_to_all_projects": {"type": "boolean"},
            "endpoint_url": {"type": ["string", "null"], "description": "S3 only"},
            "access_key": {"type": ["string", "null"], "description": "S3 only; stored encrypted, never returned"},
            "secret_key": {"type": ["string", "null"], "description": "S3 only; stored encrypted, never returned"},
        },
    },
    "StorageGrant": {
        "type": "object",
        "required": ["source_id", "project_id"],
        "properties": {"source_id": _ID, "project_id": _ID},
    },
    "JobAccepted": {
        "type": "object",
        "required": ["job_id", "deployment_id", "project_id"],
        "properties": {"job_id": _ID, "deployment_id": _ID, "project_id": _ID},
    },
    "RegroupPreview": {
        "type": "object",
        "required": ["gap_seconds", "keying", "sessions_before", "sessions_after", "longest_session_seconds"],
        "properties": {
            "gap_seconds": {"type": "integer"}, "keying": _KEYING, "sessions_before": {"type": "integer"},
            "sessions_after": {"type": "integer"}, "longest_session_seconds": {"type": "integer"},
        },
    },
    "Event": {
        "type": "object",
        "required": ["id", "deployment_id", "group_by", "start", "end", "captures_count"],
        "properties": {
            "id": _ID, "deployment_id": _ID, "group_by": {"type": "string"},
            "start": _TIME, "end": _TIME, "captures_count": {"type": "integer"},
        },
    },
    "Job": {
        "type": "object",
        "required": ["id", "name", "job_type_key", "status", "deployment_id", "project_id",
                     "created_at", "started_at", "finished_at", "progress", "logs"],
        "properties": {
            "id": _ID, "name": {"type": "string"},
            "job_type_key": {"type": "string", "enum": ["regroup_events", "data_storage_sync"]},
            "status": {"type": "string", "enum": ["CREATED", "PENDING", "STARTED", "SUCCESS", "FAILURE",
                                                  "CANCELING", "REVOKED"]},
            "deployment_id": {"type": ["integer", "null"]}, "project_id": {"type": ["integer", "null"]},
            "created_at": _TIME, "started_at": _TIME, "finished_at": _TIME,
            "progress": {
                "type": "object",
                "properties": {
                    "summary": {"type": "object", "properties": {"status": {"type": "string"},
                                                                 "progress": {"type": "number"}}},
                    "stages": {"type": "array", "items": {"type": "object", "properties": {
                        "key": {"type": "string"}, "name": {"type": "string"}, "status": {"type": "string"},
                        "progress": {"type": "number"},
                        "params": {"type": "array", "items": {"type": "object", "properties": {
                            "name": {"type": "string"}, "key": {"type": "string"}, "value": {}}}},
                    }}},
                },
            },
            "logs": {"type": "object", "properties": {
                "stdout": {"type": "array", "items": {"type": "string"}},
                "stderr": {"type": "array", "items": {"type": "string"}}}},
        },
    },
}

PATHS = {
    "/api/v2/projects/": {
        "get": {"operationId": "listProjects", "summary": "Projects the user is a member of (all for a superuser)",
                "parameters": _PAGING, "responses": _ok("A page of projects", _page("Project"))},
        "post": {"operationId": "createProject", "summary": "Create a project; the caller becomes its ProjectManager",
                 "requestBody": _body({**SCHEMAS["ProjectInput"], "required": ["name"]}),
                 "responses": _ok("The project", _ref("Project"), "201")},
    },
    "/api/v2/projects/{project_id}/": {
        "parameters": [_path_id("project_id")],
        "get": {"operationId": "getProject", "summary": "One project (members)",
                "responses": _ok("The project", _ref("Project"))},
        "patch": {"operationId": "updateProject", "summary": "Change settings (update_project)",
                  "requestBody": _body(_ref("ProjectInput")), "responses": _ok("The project", _ref("Project"))},
    },
    "/api/v2/projects/{project_id}/members/": {
        "parameters": [_path_id("project_id")],
        "post": {"operationId": "setMember", "summary": "Give a user a role (manage_members)",
                 "requestBody": _body(_ref("MemberInput")),
                 "responses": _ok("The membership", _ref("Membership"), "201")},
    },
    "/api/v2/deployments/": {
        "post": {"operationId": "createDeployment", "summary": "Create a station (create_deployment)",
                 "requestBody": _body(_ref("DeploymentCreate")),
                 "responses": _ok("The station", _ref("Deployment"), "201")},
    },
    "/api/v2/deployments/{deployment_id}/": {
        "parameters": [_path_id("deployment_id")],
        "get": {"operationId": "getDeployment", "summary": "One station (members)",
                "responses": _ok("The station", _ref("Deployment"))},
        "patch": {"operationId": "updateDeployment", "summary": "Change a station (update_deployment)",
                  "requestBody": _body(_ref("DeploymentUpdate")),
                  "responses": _ok("The station", _ref("Deployment"))},
    },
    "/api/v2/deployments/{deployment_id}/sync/": {
        "parameters": [_path_id("deployment_id")],
        "post": {"operationId": "syncDeployment", "summary": "Queue a data storage sync (sync_deployment)",
                 "responses": _ok("The queued job", _ref("JobAccepted"), "202")},
    },
    "/api/v2/deployments/{deployment_id}/regroup-sessions/": {
        "parameters": [_path_id("deployment_id")],
        "post": {"operationId": "regroupDeployment", "summary": "Queue a regroup (regroup_sessions_deployment)",
                 "responses": _ok("The queued job", _ref("JobAccepted"), "202")},
    },
    "/api/v2/deployments/{deployment_id}/regroup-preview/": {
        "parameters": [_path_id("deployment_id")],
        "get": {"operationId": "previewRegroup", "summary": "Sessions before and after a regroup; writes nothing",
                "parameters": [_query("gap_seconds", _GAP), _query("keying", _KEYING)],
                "responses": _ok("The preview", _ref("RegroupPreview"))},
    },
    "/api/v2/events/": {
        "get": {"operationId": "listEvents", "summary": "Sessions, ordered by start",
                "parameters": [_query("deployment", _ID), *_PAGING],
                "responses": _ok("A page of sessions", _page("Event"))},
    },
    "/api/v2/jobs/": {
        "get": {"operationId": "listJobs", "summary": "Jobs, newest first",
                "parameters": [_query("deployment", _ID), *_PAGING],
                "responses": _ok("A page of jobs", _page("Job"))},
    },
    "/api/v2/jobs/{job_id}/": {
        "parameters": [_path_id("job_id")],
        "get": {"operationId": "getJob", "summary": "One job", "responses": _ok("The job", _ref("Job"))},
    },
    "/api/v2/jobs/{job_id}/cancel/": {
        "parameters": [_path_id("job_id")],
        "post": {"operationId": "cancelJob", "summary": "Cancel a job (run_<job_type_key>_job)",
                 "responses": {**_ok("The job", _ref("Job"), "202"),
                               "409": {"description": "Already finished", "content": _json(_ref("Error"))}}},
    },
    "/api/v2/storage-sources/": {
        "get": {"operationId": "listStorageSources", "summary": "Storage sources (superusers)",
                "parameters": _PAGING, "responses": _ok("A page of storage sources", _page("StorageSource"))},
        "post": {"operationId": "createStorageSource", "summary": "Register a storage source (superusers)",
                 "requestBody": _body(_ref("StorageSourceInput")),
                 "responses": _ok("The storage source", _ref("StorageSource"), "201")},
    },
    "/api/v2/storage-sources/{source_id}/grants/": {
        "parameters": [_path_id("source_id")],
        "post": {"operationId": "grantStorageSource",
                 "summary": "Let a project's stations use the source (superusers)",
                 "requestBody": _body({"type": "object", "required": ["project_id"],
                                       "properties": {"project_id": _ID}}),
                 "responses": _ok("The grant", _ref("StorageGrant"), "201")},
    },
    "/api/v2/openapi.json": {
        "get": {"operationId": "openapi", "summary": "This document", "security": [],
                "responses": {"200": {"description": "OpenAPI 3 document"}}},
    },
}

DOCUMENT = {
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
        "schemas": SCHEMAS,
    },
    "paths": PATHS,
}


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(DOCUMENT)
