"""The signed-in user's own things: their password and API tokens."""
from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user

from .. import accounts
from ..extensions import db
from ..validation import ValidationError

bp = Blueprint("account", __name__, url_prefix="/account")

def _page(values: dict, errors: dict, new_token: dict | None = None, status: int = 200):
    return (
        render_template(
            "account/tokens.html", tokens=accounts.user_tokens(current_user), values=values, errors=errors, new_token=new_token
        ),
        status,
    )


@bp.route("/tokens", methods=["GET", "POST"])
@login_required
def tokens():
    if request.method == "GET":
        return _page({"name": ""}, {})
    values = {"name": request.form.get("name", "")}
    try:
        row, token = accounts.issue_token(current_user, values["name"])
    except ValidationError as error:
        db.session.rollback()
        return _page(values, error.errors, status=400)
    # Shown in the answer to this POST and nowhere else: a redirect would have to carry the
    # secret across in the session cookie, where it would outlive the page.
    flash(f"Token “{row.name}” created. Copy it now: it is shown only once.", "success")
    body, status = _page({"name": ""}, {}, {"id": row.id, "name": row.name, "token": token})
    # The page shows a secret: no cache may keep it.
    return body, status, {"Cache-Control": "no-store"}


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke(token_id: int):
    try:
        token = accounts.revoke_token(current_user, token_id)
    except accounts.TokenNotFound:
        abort(404)
    flash(f"Token “{token.name or 'unnamed'}” revoked; requests with it are refused from now on.", "success")
    return redirect(url_for(".tokens"), code=303)


def _password_page(errors: dict) -> str:
    return render_template("account/password.html", errors=errors, min_length=accounts.MIN_PASSWORD_LENGTH)


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    if request.method == "GET":
        return _password_page({})
    user = current_user._get_current_object()
    form = request.form
    try:
        accounts.change_own_password(
            user, form.get("current_password", ""), form.get("new_password", ""), form.get("repeat_password", ""),
            request.remote_addr or "",
        )
    except accounts.SignInThrottled as error:
        return _password_page({"current_password": [str(error)]}), 429, {"Retry-After": str(error.retry_after)}
    except ValidationError as error:
        return _password_page(error.errors), 400
    # The change ended every session of the user; this browser alone starts a fresh one.
    session.clear()
    login_user(user)
    flash("Password changed. Every other session of yours is signed out; you stay signed in here. "
          "Your API tokens keep working.", "success")
    return redirect(url_for(".password"), code=303)
