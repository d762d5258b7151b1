"""A project's sessions as files: `sessions.csv` and a Camtrap DP 1.0 zip, both streamed."""
from flask import Response, stream_with_context

from ...errors import error_response
from ...exports import ExportConflict, camtrap_dp_zip, sessions_csv
from . import bp, get_project
from .operations import operation


@bp.get("/projects/<int:project_id>/export/sessions.csv")
@operation("The project's sessions as CSV (text/csv), times with the station's UTC offset (permission export_project_data)",
           errors=(401, 403, 404))
def export_sessions_csv(project_id: int):
    project = get_project(project_id, "export_project_data")
    return Response(
        stream_with_context(sessions_csv(project)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="project-{project.id}-sessions.csv"'},
    )


@bp.get("/projects/<int:project_id>/export/camtrap-dp.zip")
@operation("The project's sessions as a Camtrap DP 1.0 package (application/zip; permission export_project_data); 409 if sessions overlap",
           errors=(401, 403, 404, 409))
def export_camtrap_dp(project_id: int):
    project = get_project(project_id, "export_project_data")
    try:
        chunks = camtrap_dp_zip(project)
    except ExportConflict as error:
        return error_response(409, str(error))
    return Response(
        stream_with_context(chunks),
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="project-{project.id}-camtrap-dp.zip"'},
    )
