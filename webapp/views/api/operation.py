"""A project's operation: captures per station and night as JSON, and the effort matrix as CSV."""
from flask import Response

from ...charts import RangeError, operation_matrix
from ...exports import operation_csv
from . import BadRequest, bp, get_project
from .calendar_schemas import Operation, OperationQuery
from .operations import operation


@bp.get("/projects/<int:project_id>/operation/")
@operation("Captures per station and night (members); null outside a station's operating period; "
           "400 for an end before the start or more than 731 nights", query=OperationQuery, response=Operation)
def project_operation(project_id: int, query: OperationQuery):
    project = get_project(project_id)
    try:
        matrix = operation_matrix(project, query.start, query.end)
    except RangeError as error:
        raise BadRequest(str(error), {"end": [str(error)]}) from None
    return {
        "nights": [night.isoformat() for night in matrix.nights],
        "deployments": [{"deployment_id": row.deployment_id, "name": row.name, "counts": row.counts}
                        for row in matrix.rows],
    }


@bp.get("/projects/<int:project_id>/export/operation.csv")
@operation("The effort matrix as CSV (text/csv; export_project_data): a row per station, a column per night",
           query=OperationQuery)
def export_operation_csv(project_id: int, query: OperationQuery):
    project = get_project(project_id, "export_project_data")
    try:
        lines = operation_csv(project, query.start, query.end)
    except RangeError as error:
        raise BadRequest(str(error), {"end": [str(error)]}) from None
    return Response(
        lines, mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="project-{project.id}-operation.csv"'},
    )
