"""A project's members and their roles; a project never loses its last Project manager."""
from sqlalchemy.orm import joinedload

from ..accounts import clean_email
from ..extensions import db
from ..models import Membership, Project, User
from ..permissions import ROLES
from ..validation import ValidationError

LAST_MANAGER = "This is the project's only ProjectManager; make someone else one first."


def _find_user(email) -> tuple[User | None, dict]:
    if not isinstance(email, str) or not email.strip():
        return None, {"email": ["An email is required."]}
    try:
        email = clean_email(email)
    except ValueError as error:
        return None, {"email": [str(error)]}
    user = db.session.scalar(db.select(User).filter_by(email=email))
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
