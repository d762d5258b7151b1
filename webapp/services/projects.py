"""Projects, their members and their session settings."""
import math

from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import SESSION_KEYINGS, Deployment, Membership, Project, User
from ..permissions import ROLES
from .numbers import parse_decimal

MIN_GAP_SECONDS = 60
MAX_GAP_SECONDS = 7 * 24 * 3600
MAX_NAME_LENGTH = 200
MAX_DESCRIPTION_LENGTH = 10_000
MAX_GAP_HOURS = MAX_GAP_SECONDS // 3600

KEYING_HELP = {
    "date": "One session per calendar date on which a run starts (the reference behaviour).",
    "night": "One session per monitoring night: runs that start before noon belong to the evening before.",
    "run": "Every run of captures is its own session, so the gap always takes effect.",
}


class ValidationError(ValueError):
    """Field errors a user can fix: `errors` maps a field name to its messages."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items()))
        self.errors = errors


def clean_gap_seconds(value) -> int:
    """A gap given in seconds (API): a whole number between 1 minute and 7 days."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("Must be a whole number of seconds.")
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise ValueError("Must be a whole number of seconds.")
    value = int(value)
    if value < MIN_GAP_SECONDS or value > MAX_GAP_SECONDS:
        raise ValueError(f"Must be between {MIN_GAP_SECONDS} seconds (1 minute) and {MAX_GAP_SECONDS} seconds (7 days).")
    return value


def clean_gap_hours(text) -> int:
    """A gap typed in hours (settings form, decimals allowed), returned in whole seconds.

    The text is read with a length limit and the hours range-checked before
    any arithmetic (see services/numbers.py).
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("Enter the session gap in hours.")
    hours = parse_decimal(text)
    if hours is None:
        raise ValueError("Enter a number of hours, for example 2 or 1.5.")
    if hours <= 0:
        raise ValueError("The gap must be more than 0 hours.")
    if hours > MAX_GAP_HOURS + 1:
        raise ValueError("The gap must be at most 168 hours (7 days).")
    seconds = int((hours * 3600).to_integral_value())
    if seconds < MIN_GAP_SECONDS:
        raise ValueError("The gap must be at least 1 minute (0.0167 hours).")
    if seconds > MAX_GAP_SECONDS:
        raise ValueError("The gap must be at most 168 hours (7 days).")
    return seconds


def clean_keying(value) -> str:
    """A session keying: one of SESSION_KEYINGS."""
    if value not in SESSION_KEYINGS:
        raise ValueError(f"Must be one of: {', '.join(SESSION_KEYINGS)}.")
    return value


def clean_name(value) -> str:
    """A name: non-empty text of at most MAX_NAME_LENGTH characters, trimmed."""
    if not isinstance(value, str):
        raise ValueError("Must be text.")
    if not value.strip():
        raise ValueError("A name is required.")
    value = value.strip()
    if len(value) > MAX_NAME_LENGTH:
        raise ValueError(f"At most {MAX_NAME_LENGTH} characters.")
    return value


def clean_text(value) -> str:
    """Free text (a description), trimmed, of at most MAX_DESCRIPTION_LENGTH characters."""
    if not isinstance(value, str):
        raise ValueError("Must be text.")
    if len(value) > MAX_DESCRIPTION_LENGTH:
        raise ValueError(f"At most {MAX_DESCRIPTION_LENGTH} characters.")
    return value.strip()


def clean_fields(data: dict, cleaners: dict) -> dict:
    """Run each present field through its cleaner; collect every error at once."""
    cleaned, errors = {}, {}
    for field, cleaner in cleaners.items():
        if field not in data:
            continue
        try:
            cleaned[field] = cleaner(data[field])
        except ValueError as error:
            errors[field] = [str(error)]
    if errors:
        raise ValidationError(errors)
    return cleaned


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


LAST_MANAGER = "This is the project's only ProjectManager; make someone else one first."


def _find_user(email) -> tuple[User | None, dict]:
    if not isinstance(email, str) or not email.strip():
        return None, {"email": ["An email is required."]}
    user = db.session.scalar(db.select(User).filter_by(email=email.strip().lower()))
    if user is None:
        return None, {"email": ["No user with this email. They need an account on this site first."]}
    return user, {}


def _clean_role(role) -> dict:
    return {} if role in ROLES else {"role": [f"Must be one of: {', '.join(ROLES)}."]}


def is_last_manager(membership: Membership) -> bool:
    """Whether this membership is the project's only ProjectManager (who must stay one)."""
    if membership.role != "ProjectManager":
        return False
    managers = db.session.scalar(
        db.select(db.func.count(Membership.id)).filter_by(project_id=membership.project_id, role="ProjectManager")
    )
    return managers == 1


def set_member(project: Project, email, role) -> Membership:
    """Give an existing user a role in the project (one role per user per project)."""
    user, errors = _find_user(email)
    errors.update(_clean_role(role))
    if errors:
        raise ValidationError(errors)
    membership = db.session.scalar(db.select(Membership).filter_by(user_id=user.id, project_id=project.id))
    if membership is None:
        membership = Membership(user=user, project=project, role=role)
        db.session.add(membership)
        db.session.commit()
        return membership
    return change_role(membership, role)


def add_member(project: Project, email, role) -> Membership:
    """Add an existing user who is not yet a member of the project, with a role."""
    user, errors = _find_user(email)
    errors.update(_clean_role(role))
    if user is not None and db.session.scalar(
        db.select(Membership.id).filter_by(user_id=user.id, project_id=project.id)
    ):
        errors["email"] = [f"{user.email} is already a member; change their role in the list instead."]
    if errors:
        raise ValidationError(errors)
    membership = Membership(user=user, project=project, role=role)
    db.session.add(membership)
    db.session.commit()
    return membership


def change_role(membership: Membership, role) -> Membership:
    """Change a member's role; the project's only ProjectManager keeps theirs."""
    errors = _clean_role(role)
    if errors:
        raise ValidationError(errors)
    if membership.role == "ProjectManager" and role != "ProjectManager":
        _demote_manager(membership.project, membership, role)
    else:
        membership.role = role
    db.session.commit()
    return membership


def _other_managers(project: Project, membership: Membership):
    """A count of the project's ProjectManagers other than `membership`, as a subquery."""
    return (
        db.select(db.func.count(Membership.id))
        .where(
            Membership.project_id == project.id,
            Membership.role == "ProjectManager",
            Membership.id != membership.id,
        )
        .scalar_subquery()
    )


def _demote_manager(project: Project, membership: Membership, role: str) -> None:
    """Give a ProjectManager another role, unless they are the project's last one.

    Two demotions at once must not both see "another manager remains": the
    project's row is locked first (PostgreSQL), and the check and the write
    are one conditional UPDATE (SQLite serialises it with every other write).
    """
    db.session.execute(db.select(Project.id).where(Project.id == project.id).with_for_update())
    changed = db.session.execute(
        db.update(Membership)
        .where(Membership.id == membership.id, Membership.role == "ProjectManager", _other_managers(project, membership) > 0)
        .values(role=role)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        db.session.rollback()
        raise ValidationError({"role": [LAST_MANAGER]})
    db.session.expire(membership)


def remove_member(membership: Membership) -> None:
    """Take a member out of the project; the project's only ProjectManager cannot be removed.

    Locked and conditional like a demotion, so two removals at once cannot
    leave the project without a manager.
    """
    project = membership.project
    db.session.execute(db.select(Project.id).where(Project.id == project.id).with_for_update())
    removed = db.session.execute(
        db.delete(Membership)
        .where(
            Membership.id == membership.id,
            db.or_(Membership.role != "ProjectManager", _other_managers(project, membership) > 0),
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if not removed:
        db.session.rollback()
        raise ValidationError({"role": ["This is the project's only ProjectManager and cannot be removed; "
                                         "make someone else one first."]})
    db.session.commit()
    db.session.expunge(membership)


def members(project: Project) -> list[Membership]:
    """The project's memberships with their users, ordered by email."""
    return db.session.scalars(
        db.select(Membership)
        .join(User)
        .options(joinedload(Membership.user))
        .where(Membership.project_id == project.id)
        .order_by(User.email)
    ).all()


def stations_needing_regroup(project: Project) -> list[Deployment]:
    """Stations whose sessions were cut with another gap or keying than they would get now.

    Stations with their own gap override are compared against that override.
    """
    stations = db.session.scalars(
        db.select(Deployment).filter_by(project_id=project.id).order_by(Deployment.name, Deployment.id)
    ).all()
    return [d for d in stations if d.grouped_with_other_settings]
