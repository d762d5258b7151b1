"""Sign in and out."""
from urllib.parse import urlsplit

from flask import Blueprint, flash, make_response, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from .. import accounts
from ..extensions import db
from ..validation import ValidationError

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=500)])


def _safe_next(target: str | None) -> str:
    """`target` if it is a clean path of this site, else the projects page.

    Anything with a scheme or host, "//" or a backslash (which browsers read
    as "/"), or a control character (CR/LF would split the Location header)
    is ignored, so the login form can neither redirect off-site nor fail.
    """
    fallback = url_for("projects.index")
    if not target or len(target) > 2000 or not target.startswith("/") or target.startswith("//"):
        return fallback
    if "\\" in target or any(ord(char) < 0x20 or ord(char) == 0x7F for char in target):
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return fallback
    return target


@bp.route("/")
def home():
    return redirect(url_for("projects.index"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("projects.index"))
    form = LoginForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        address = request.remote_addr or ""
        wait = accounts.sign_in_retry_after(email, address)
        if wait is not None:
            # While locked even the right password is refused, so guessing gains nothing.
            form.password.errors.append(accounts.sign_in_wait_message(wait))
            response = make_response(render_template("auth/login.html", form=form), 429)
            response.headers["Retry-After"] = str(wait)
            return response
        user = accounts.authenticate(email, form.password.data)
        if user is not None:
            # A fresh session: nothing, the CSRF secret included, carries over from before sign-in.
            session.clear()
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        accounts.record_sign_in_failure(email, address)
        form.password.errors.append("Email or password is not correct.")
    status = 400 if form.errors else 200
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    # Every session of the user ends, not only this browser's: copies of the cookie stop working.
    accounts.end_sessions(current_user._get_current_object())
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


def _invitation_page(user=None, errors: dict | None = None, invalid: str | None = None, status: int = 200):
    return render_template("auth/invitation.html", user=user, errors=errors or {}, invalid=invalid,
                           min_length=accounts.MIN_PASSWORD_LENGTH), status


@bp.route("/invite/<token>", methods=["GET", "POST"])
def invitation(token: str):
    """Whoever holds the link sets the invited user's password and is signed in as them."""
    address = request.remote_addr or ""
    try:
        if request.method == "GET":
            return _invitation_page(accounts.open_invitation(token, address))
        user = accounts.accept_invitation(token, request.form.get("password"), address)
    except accounts.InvitationInvalid as error:
        return _invitation_page(invalid=str(error), status=404)
    except accounts.InvitationsThrottled as error:
        page, _ = _invitation_page(invalid=str(error))
        return page, 429, {"Retry-After": str(error.retry_after)}
    except ValidationError as error:
        db.session.rollback()
        return _invitation_page(accounts.open_invitation(token, address), error.errors, status=400)
    session.clear()
    login_user(user)
    flash(f"Welcome! Your password is set; you are signed in as {user.email}.", "success")
    return redirect(url_for("projects.index"), code=303)
