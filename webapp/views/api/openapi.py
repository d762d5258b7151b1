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
            "data_source": {"type": "string", "description": "A folder under DATA_SOURCE_ROOTS or s3://bucket/prefix"},
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
    "Thumbnails": {
        "type": "object", "description": "label → URL of the thumbnail endpoint",
        "additionalProperties": {"type": "string"},
    },
    "ExampleCapture": {
        "type": "object",
        "required": ["id", "timestamp", "thumbnails"],
        "properties": {"id": _ID, "timestamp": _TIME, "thumbnails": _ref("Thumbnails")},
    },
    "Event": {
        "type": "object",
        "required": ["id", "deployment_id", "group_by", "start", "end", "captures_count", "example_captures"],
        "properties": {
            "id": _ID, "deployment_id": _ID, "group_by": {"type": "string"},
            "start": _TIME, "end": _TIME, "captures_count": {"type": "integer"},
            "example_captures": {"type": "array", "maxItems": 4, "items": _ref("ExampleCapture"),
                                 "description": "First, middle, last and largest capture of the session"},
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
    "/api/v2/events/{event_id}/": {
        "parameters": [_path_id("event_id")],
        "get": {"operationId": "getEvent", "summary": "One session (members)",
                "responses": _ok("The session", _ref("Event"))},
    },
    "/api/v2/captures/thumbnails/{capture_id}/": {
        "parameters": [_path_id("capture_id")],
        "get": {"operationId": "getCaptureThumbnail",
                "summary": "Make the thumbnail on first request; redirect to the stored file (members)",
                "parameters": [_query("label", {"type": "string"})],
                "responses": {
                    "302": {"description": "Redirect to the thumbnail (Cache-Control: private, max-age=300)"},
                    "401": {"description": "No or bad credentials", "content": _json(_ref("Error"))},
                    "403": {"description": "Not allowed", "content": _json(_ref("Error"))},
                    "404": {"description": "Missing, not visible, unknown label, thumbnails off, or source file gone",
                            "content": _json(_ref("Error"))},
                    "502": {"description": "The source file or the thumbnail storage failed",
                            "content": _json(_ref("Error"))},
                }},
    },
    "/api/v2/captures/thumbnails/": {
        "get": {"operationId": "listCaptureThumbnails", "summary": "Not allowed: thumbnails are fetched one at a time",
                "responses": {"405": {"description": "Method not allowed", "content": _json(_ref("Error"))},
                              "401": {"description": "No or bad credentials", "content": _json(_ref("Error"))}}},
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
