"""Projects, their members and their session settings."""


from ..extensions import db
from ..models import Deployment, Membership, Project, User
from ..sessions import clean_gap_seconds, clean_keying
from ..validation import ValidationError, clean_fields, clean_name, clean_text

PROJECT_FIELDS = {
    "name": clean_name,
    "session_time_gap_seconds": clean_gap_seconds,
    "session_keying": clean_keying,
    "description": clean_text,
}


def create_project(owner: User, data: dict) -> Project:
    """Create a project from API-style data; the owner becomes its ProjectManager."""
    if "name" not in data:
        raise ValidationError({"name": ["A name is required."]})
    project = Project(**clean_fields(data, PROJECT_FIELDS))
    db.session.add(project)
    db.session.add(Membership(user=owner, project=project, role="ProjectManager"))
    db.session.commit()
    return project


def update_project(project: Project, data: dict) -> Project:
    """Apply validated settings. Sessions change only when stations are regrouped."""
    for field, value in clean_fields(data, PROJECT_FIELDS).items():
        setattr(project, field, value)
    db.session.commit()
    return project


def stations_needing_regroup(project: Project) -> list[Deployment]:
    """Stations whose sessions were cut with another gap or keying than they would get now.

    Stations with their own gap override are compared against that override.
    """
    stations = db.session.scalars(
        db.select(Deployment).filter_by(project_id=project.id).order_by(Deployment.name, Deployment.id)
    ).all()
    return [d for d in stations if d.grouped_with_other_settings]
