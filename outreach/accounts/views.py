"""Setup, login, users and API tokens."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask import session as web_session
from flask_login import current_user, login_required, login_user
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from outreach.accounts import logins, service
from outreach.accounts.forms import LoginForm, PasswordForm, SetupForm, TokenForm, UserEditForm, UserForm
from outreach.models import ApiToken, Client, User
from outreach.web.auth import admin_required, log_in, log_out
from outreach.web.forms import error_next_to_field, options
from outreach.web.redirects import safe_next
from outreach.web.state import app_state, db_session, settings

bp = Blueprint("accounts", __name__)




@bp.route("/setup", methods=["GET", "POST"])
def setup() -> str | Response:
    session = db_session()
    if service.has_users(session):
        abort(404)
    form = SetupForm()
    if form.validate_on_submit():
        try:
            user = service.create_first_admin(session, form.email.data or "", form.password.data or "",
                                              form.name.data or "")
        except service.AccountError as exc:
            error_next_to_field(form, exc, "email")
        else:
            session.commit()
            app_state().has_users = True
            log_in(user)
            flash("Welcome! Your admin account is ready. Start by adding a client.", "success")
            return redirect(url_for("campaigns.dashboard"))
    return render_template("accounts/setup.html", form=form)


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    if current_user.is_authenticated:
        return redirect(url_for("campaigns.dashboard"))
    form = LoginForm()
    if form.validate_on_submit():
        session = db_session()
        app_settings = settings().app
        try:
            user = service.authenticate(session, form.email.data or "", form.password.data or "",
                                        max_failures=app_settings.login_max_failures,
                                        lockout_minutes=app_settings.login_lockout_minutes)
        except service.AccountError as exc:
            session.commit()  # keep the failure count
            form.password.errors = [str(exc)]
        else:
            session.commit()
            web_session.clear()  # nothing from before the login (a planted CSRF token) carries over
            log_in(user, remember=bool(form.remember.data))
            return redirect(_safe_next(request.args.get("next")))
    return render_template("accounts/login.html", form=form)


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never an open redirect."""
    return safe_next(target) or url_for("campaigns.dashboard")


@bp.post("/logout")
@login_required
def logout() -> Response:
    log_out()
    flash("You are logged out.", "info")
    return redirect(url_for("accounts.login"))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account() -> str | Response:
    session = db_session()
    password_form = PasswordForm(prefix="pw")
    token_form = TokenForm(prefix="tok")
    new_secret = None
    if request.method == "POST" and request.form.get("action") == "password":
        if password_form.validate_on_submit():
            try:
                service.change_password(session, current_user, password_form.current_password.data or "",
                                        password_form.new_password.data or "")
            except service.AccountError as exc:
                error_next_to_field(password_form, exc, "current_password")
            else:
                logins.end_other_logins(session, current_user, current_user.login_token)
                current = logins.find_login(session, current_user.id, current_user.login_token)
                session.commit()
                # this session goes on (its remember-me cookie renewed with the new fingerprint); every other ends
                login_user(current_user._get_current_object(), remember=bool(current and current[1].is_remembered))
                flash("Your password is changed.", "success")
                return redirect(url_for("accounts.account"))
    elif request.method == "POST" and request.form.get("action") == "token" and token_form.validate_on_submit():
        try:
            _token, new_secret = service.create_api_token(session, current_user, token_form.name.data or "")
        except service.AccountError as exc:
            error_next_to_field(token_form, exc, "name")
        else:
            session.commit()
            token_form = TokenForm(prefix="tok", formdata=None)
    tokens = session.scalars(select(ApiToken).where(ApiToken.user_id == current_user.id)
                             .order_by(ApiToken.created_at.desc())).all()
    sessions = logins.logins_of(session, current_user)
    return render_template("accounts/account.html", password_form=password_form, token_form=token_form,
                           tokens=tokens, new_secret=new_secret, sessions=sessions,
                           is_current=lambda login: logins.is_current(login, current_user.login_token))


@bp.post("/account/sessions/<int:login_id>/end")
@login_required
def end_session(login_id: int) -> Response:
    session = db_session()
    try:
        logins.end_login(session, current_user, login_id)
    except service.AccountError as exc:
        flash(str(exc), "error")
    else:
        session.commit()
        flash("That browser is logged out.", "success")
    return redirect(url_for("accounts.account", _anchor="sessions"))


@bp.post("/account/sessions/end-others")
@login_required
def end_other_sessions() -> Response:
    session = db_session()
    ended = logins.end_other_logins(session, current_user, current_user.login_token)
    session.commit()
    flash(f"Logged out {ended} other browser(s)." if ended else "No other browser was logged in.", "success")
    return redirect(url_for("accounts.account", _anchor="sessions"))


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int) -> Response:
    session = db_session()
    try:
        service.revoke_api_token(session, current_user, token_id)
    except service.AccountError:
        abort(404)
    session.commit()
    flash("The token is revoked; scripts using it will get 401.", "success")
    return redirect(url_for("accounts.account"))


def _client_choices() -> list[SelectChoice]:
    clients = db_session().scalars(select(Client).order_by(Client.name)).all()
    return options([(0, "—"), *[(c.id, c.name) for c in clients]])


@bp.route("/users", methods=["GET", "POST"])
@admin_required
def users() -> str | Response:
    session = db_session()
    form = UserForm()
    form.client_id.choices = _client_choices()
    if form.validate_on_submit():
        try:
            user = service.create_user(session, form.email.data or "", form.password.data or "",
                                       name=form.name.data or "", role=form.role.data,
                                       client_id=form.client_id.data or None, actor=current_user)
        except service.AccountError as exc:
            error_next_to_field(form, exc, "email")
        else:
            session.commit()
            flash(f"{user.email} can now log in with the password you chose.", "success")
            return redirect(url_for("accounts.users"))
    all_users = session.scalars(select(User).order_by(User.email)).all()
    return render_template("accounts/users.html", form=form, users=all_users)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@admin_required
def edit_user(user_id: int) -> str | Response:
    session = db_session()
    user = session.get(User, user_id)
    if user is None:
        abort(404)
    form = UserEditForm(obj=user if request.method == "GET" else None)
    form.client_id.choices = _client_choices()
    if request.method == "GET":
        form.client_id.data = user.client_id or 0
    if form.validate_on_submit():
        try:
            service.update_user(session, user, actor=current_user, role=form.role.data,
                                is_active=bool(form.is_active.data), client_id=form.client_id.data or None,
                                name=form.name.data or "")
        except service.AccountError as exc:
            error_next_to_field(form, exc, "role")
        else:
            session.commit()
            flash(f"{user.email} is updated.", "success")
            return redirect(url_for("accounts.users"))
    return render_template("accounts/user_edit.html", form=form, user=user)
