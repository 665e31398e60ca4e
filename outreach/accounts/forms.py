"""Account forms (Flask-WTF: every one carries a CSRF token)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from outreach.accounts.service import MIN_PASSWORD_LENGTH
from outreach.web.forms import options


class SetupForm(FlaskForm):
    name = StringField("Your name", validators=[Optional(), Length(max=200)])
    email = EmailField("Email address", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH)])
    confirm = PasswordField("Repeat password",
                            validators=[DataRequired(), EqualTo("password", "The passwords differ.")])


class LoginForm(FlaskForm):
    email = EmailField("Email address", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])
    remember = BooleanField("Keep me logged in")


class UserForm(FlaskForm):
    name = StringField("Name", validators=[Optional(), Length(max=200)])
    email = EmailField("Email address", validators=[DataRequired()])
    password = PasswordField("Initial password",
                             validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH)])
    role = SelectField("Role", choices=options([("member", "Member"), ("admin", "Admin"),
                                        ("client_viewer", "Client viewer (read-only, one client)"),
                                        ("personaliser", "Personaliser (edits and approves first emails only)")]))
    client_id = SelectField("Client (for client viewers)", coerce=int, choices=[], validate_choice=False)


class UserEditForm(FlaskForm):
    name = StringField("Name", validators=[Optional(), Length(max=200)])
    role = SelectField("Role", choices=options([("member", "Member"), ("admin", "Admin"),
                                        ("client_viewer", "Client viewer (read-only, one client)"),
                                        ("personaliser", "Personaliser (edits and approves first emails only)")]))
    client_id = SelectField("Client (for client viewers)", coerce=int, choices=[], validate_choice=False)
    is_active = BooleanField("Active")


class PasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    new_password = PasswordField("New password",
                                 validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH)])
    confirm = PasswordField("Repeat new password",
                            validators=[DataRequired(), EqualTo("new_password", "The passwords differ.")])


class TokenForm(FlaskForm):
    name = StringField("Token name", validators=[DataRequired(), Length(max=100)])
