from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField, SubmitField
from wtforms.validators import AnyOf, DataRequired, EqualTo, Length


class LoginForm(FlaskForm):
    username = StringField(
        _l("Username or email"), validators=[DataRequired(), Length(max=254)],
        render_kw={"autocomplete": "username", "autocapitalize": "none", "autofocus": True},
    )
    password = PasswordField(
        _l("Password"), validators=[DataRequired(), Length(max=256)],
        render_kw={"autocomplete": "current-password"},
    )
    next = HiddenField()
    submit = SubmitField(_l("Sign in"))


class LogoutForm(FlaskForm):
    submit = SubmitField(_l("Sign out"))


class ConsentForm(FlaskForm):
    """Rendered as two buttons named ``decision``: ``allow`` and ``deny``."""

    decision = StringField(validators=[DataRequired(), AnyOf(["allow", "deny"])])


class SelectOrgForm(FlaskForm):
    """Rendered as one button per organization, named ``org``, valued by slug."""

    org = StringField(validators=[DataRequired(), Length(max=64)])


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        _l("Current password"), validators=[DataRequired(), Length(max=256)],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = PasswordField(
        _l("New password"), validators=[DataRequired(), Length(max=256)],
        render_kw={"autocomplete": "new-password"},
    )
    confirm_password = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("new_password", _l("The passwords do not match."))],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField(_l("Change password"))


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class CodeForm(FlaskForm):
    """A second factor typed in: an authenticator app's code or a recovery code."""

    code = StringField(
        _l("Code"), validators=[DataRequired(), Length(max=64)],
        render_kw={"autocomplete": "one-time-code", "autocapitalize": "none",
                   "spellcheck": "false", "autofocus": True},
    )
    submit = SubmitField(_l("Continue"))


class PasskeyNameForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    submit = SubmitField(_l("Rename"))


class ProviderForm(FlaskForm):
    """Rendered as one button per upstream provider, named ``provider``, valued by id."""

    provider = StringField(validators=[DataRequired(), Length(max=64)])
    link = HiddenField()  # "1": link it to the signed-in account instead of signing in


class ForgotPasswordForm(FlaskForm):
    email = StringField(
        _l("Email"), validators=[DataRequired(), Length(max=254)],
        render_kw={"autocomplete": "email", "autocapitalize": "none", "type": "email",
                   "autofocus": True},
    )
    submit = SubmitField(_l("Send me a link"))


class ResetPasswordForm(FlaskForm):
    password = PasswordField(
        _l("New password"), validators=[DataRequired(), Length(max=256)],
        render_kw={"autocomplete": "new-password", "autofocus": True},
    )
    password2 = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("password", _l("The passwords do not match."))],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField(_l("Set the new password"))


class AcceptInvitationForm(FlaskForm):
    """A new account from an invitation: the address is the invitation's."""

    username = StringField(
        _l("Username"), validators=[DataRequired(), Length(max=150)],
        render_kw={"autocomplete": "username", "autocapitalize": "none", "autofocus": True},
    )
    password = PasswordField(
        _l("Password"), validators=[DataRequired(), Length(max=256)],
        render_kw={"autocomplete": "new-password"},
    )
    password2 = PasswordField(
        _l("Repeat the password"),
        validators=[DataRequired(), EqualTo("password", _l("The passwords do not match."))],
        render_kw={"autocomplete": "new-password"},
    )


class SignUpForm(FlaskForm):
    """Only the address: its owner chooses the rest from the mailed link."""

    email = StringField(
        _l("Email"), validators=[DataRequired(), Length(max=254)],
        render_kw={"autocomplete": "email", "autocapitalize": "none", "type": "email",
                   "autofocus": True},
    )
