"""The JSON API (`/api/v2/…`): token or session auth, JSON in and out.

Every endpoint fetches its object and declares the permission it needs in one
line through `get_project`, `get_deployment` or `get_job`: a missing or
invisible object is 404, a visible one without the permission 403.
"""
import json
from urllib.parse import urlencode

from flask import Blueprint, abort, current_app, g, request
from flask_login import current_user
from flask_principal import Identity
from flask_wtf.csrf import validate_csrf
from wtforms import ValidationError as CSRFValidationError

from ...auth import request_has_token, user_from_token_header
from ...errors import error_response
from ...extensions import csrf, db, login_manager, principal
from ...models import Deployment, Job, Membership, Project
from ...validation import ValidationError
from ..lookup import get_visible

bp = Blueprint("api", __name__, url_prefix="/api/v2")
# Token requests cannot be forged cross-site; session requests are checked in `authenticate`.
csrf.exempt(bp)

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
PUBLIC_ENDPOINTS = {"api.openapi_document"}


class BadRequest(Exception):
    """Bad input: answered 400 with `detail` and optional per-field `errors`."""

    def __init__(self, detail: str, errors: dict | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


def invalid_input(errors: dict[str, list[str]]) -> BadRequest:
    """A 400 for field errors whose `detail` names the fields, so a client sees which at a glance."""
    return BadRequest(f"Invalid input: {', '.join(errors)}.", errors)


@bp.record_once
def _no_login_redirect(state):
    # `login_required` and `login_manager.unauthorized()` answer a JSON 401 here, never a redirect.
    login_manager.blueprint_login_views[bp.name] = None


@bp.errorhandler(BadRequest)
def bad_request(error: BadRequest):
    return error_response(400, error.detail, error.errors)


@bp.errorhandler(ValidationError)
def service_field_errors(error: ValidationError):
    """Field errors from a service: nothing of the change is kept."""
    db.session.rollback()
    return bad_request(invalid_input(error.errors))


@bp.before_request
def authenticate():
    """401 without valid credentials; a CSRF token for unsafe session requests."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if request_has_token():
        user = user_from_token_header()
        if user is None:
            abort(401, "Invalid token.")
        if current_user.get_id() != user.get_id():
            # A browser session of someone else must not override an explicit token.
            g._login_user = user
            principal.set_identity(Identity(user.id, "token"))
        return None
    if not current_user.is_authenticated:
        abort(401)
    if request.method not in SAFE_METHODS and current_app.config.get("WTF_CSRF_ENABLED", True):
        token = request.headers.get("X-CSRFToken") or request.headers.get("X-CSRF-Token")
        try:
            validate_csrf(token)
        except CSRFValidationError as error:
            return error_response(400, f"CSRF check failed: {error}")
    return None


def json_body() -> dict:
    """The request's JSON object; malformed JSON or anything but an object is a 400."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise BadRequest("A JSON object body is required.")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise BadRequest("Malformed JSON body.") from None
    if not isinstance(data, dict):
        raise BadRequest("The JSON body must be an object.")
    errors = {}
    for field, value in data.items():
        if isinstance(value, str) and not _storable(value):
            errors[field] = ["Must not contain NUL characters or unpaired surrogates."]
    if errors:
        raise invalid_input(errors)
    return data


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def get_project(project_id: int, codename: str = "view_project") -> Project:
    return get_visible(Project, project_id, codename)


def get_deployment(deployment_id: int, codename: str = "view_project") -> Deployment:
    return get_visible(Deployment, deployment_id, codename)


def get_job(job_id: int, codename: str = "view_project") -> Job:
    return get_visible(Job, job_id, codename)


def visible_project_ids():
    """A subquery of the current user's project ids (not used for superusers)."""
    return db.select(Membership.project_id).where(Membership.user_id == current_user.id)


def paginate(query, serialize, serialize_page=None) -> dict:
    """`{count, next, previous, results}` for `?page=` and `?page_size=` (≤ 500).

    `serialize_page`, when given, turns the whole page of rows into results at
    once (for shapes that need one more set-based query per page).
    """
    from .operations import parse_query
    from .schemas import PageQuery

    paging = parse_query(PageQuery)
    page, page_size = paging.page, paging.page_size
    count = db.session.scalar(db.select(db.func.count()).select_from(query.order_by(None).subquery()))
    # A page past the end is empty without asking the database (its offset may not even fit an SQL integer).
    past_end = (page - 1) * page_size >= count
    rows = [] if past_end else db.session.scalars(query.limit(page_size).offset((page - 1) * page_size)).all()
    results = serialize_page(rows) if serialize_page else [serialize(row) for row in rows]
    return page_envelope(count, page, page_size, results)


def page_envelope(count: int, page: int, page_size: int, results: list) -> dict:
    """The shape of every API list: `{count, next, previous, results}`."""
    return {
        "count": count,
        "next": _page_url(page + 1, page_size) if page * page_size < count else None,
        "previous": _page_url(page - 1, page_size) if page > 1 else None,
        "results": results,
    }


def _page_url(page: int, page_size: int) -> str:
    args = request.args.to_dict()
    args.update(page=str(page), page_size=str(page_size))
    return f"{request.base_url}?{urlencode(args)}"


from . import (  # noqa: E402,F401  (routes register on bp)
    captures,
    clock_offsets,
    deployments,
    events,
    exports,
    health,
    jobs,
    openapi,
    operation,
    projects,
    storage,
    thumbnails,
)
