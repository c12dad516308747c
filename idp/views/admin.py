"""The admin console (``/admin``): users, organizations, clients, APIs, upstream
providers, signing keys and the audit log, for administrators.

Rules:
- every page needs a signed-in administrator whose sign-in is at most
  ``IDP_ADMIN_REAUTH_SECONDS`` old, with a second factor when they have one
  (else the login page or ``/login/mfa``, then back here); anyone else gets 403;
- every form has CSRF (``CSRFProtect``); every change goes through the same
  services as the admin API and the command line, and is an audit event naming
  the administrator (``Origin.actor``);
- a bad value is shown next to its field (the service's ``FieldError``); a form
  carries the version it was read at, and a change made meanwhile is refused,
  never overwritten;
- deleting is asked first, saying what goes with it; a secret is shown once,
  on the page the change leads to (kept sealed in the session until then, so a
  reload neither repeats the change nor shows it again).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, current_app, g, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from ..clock import now
from ..errors import error_response
from ..extensions import db
from ..models import Group, Organization, User
from ..models.client import (
    ACCESS_TOKEN_ALGS,
    AUTH_METHODS,
    GRANT_TYPES,
    ID_TOKEN_ALGS,
    TOKEN_PROFILES,
)
from ..models.org import ROLES
from ..oauth import keys
from ..oauth.upstream_client import callback_url
from ..security import sealing
from ..services import (
    Conflict,
    FieldError,
    NotFound,
    ServiceError,
    accounts,
    apis,
    audit,
    clients,
    consent,
    factors,
    invitations,
    orgs,
    overview,
    recovery,
    sessions,
    upstreams,
)
from ._request import origin, see_other, signed_in
from .admin_api import export_events

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.app_template_global()
def usernames_of(events: list[Any]) -> dict[str, str]:
    """The usernames of the users these audit events name (one query for the page)."""
    ids = {e.user_id for e in events if e.user_id}
    if not ids:
        return {}
    rows = db.session.execute(select(User.id, User.username).where(User.id.in_(ids)))
    return {user_id: username for user_id, username in rows}


@bp.app_template_filter()
def detail(value: Any) -> str:
    """An audit detail as words: lists joined, true and false as yes and no."""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    return "" if value is None else str(value)

PAGE = 25
Errors = dict[str, str]


@bp.before_request
def _administrators_only() -> ResponseReturnValue | None:
    user, login_session = signed_in()
    back = request.full_path.rstrip("?") if request.method == "GET" else url_for("admin.index")
    if user is None or login_session is None:
        return see_other(url_for("auth.login", next=back))
    if not user.admin:
        return error_response(403, _("This page is for administrators."), as_json=False)
    if now() - login_session.auth_time > int(current_app.config["IDP_ADMIN_REAUTH_SECONDS"]):
        return see_other(url_for("auth.login", next=back, reason="fresh"))
    if login_session.acr != "2" and factors.has_second_factor(user):
        return see_other(url_for("auth.second_factor", next=back))
    g.admin = user
    return None


SHOWN_ONCE = "admin_shown_once"  # the session key: a new secret, sealed, until shown
SEALED_FOR = "admin secret shown once"


def _show_once(secret: Any, endpoint: str, **values: Any) -> ResponseReturnValue:
    """After the change that made a secret: to the page that shows it, once."""
    session[SHOWN_ONCE] = sealing.seal(SEALED_FOR, json.dumps(secret))
    return see_other(url_for(endpoint, **values))


def _shown_once() -> Any:
    sealed = session.pop(SHOWN_ONCE, None)
    if not isinstance(sealed, str):
        return None
    try:
        return json.loads(sealing.unseal(SEALED_FOR, sealed))
    except (sealing.Unsealable, ValueError):
        return None


@bp.app_template_filter("isotime")
def _isotime(seconds: int, short: bool = False) -> str:
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%d %H:%M") if short else moment.isoformat()


def _origin() -> audit.Origin:
    return origin().by(g.admin.id)


def _try(change: Callable[[], Any]) -> tuple[Any, Errors, str | None]:
    """A service call: its result, or the field errors and the message it raised."""
    try:
        return change(), {}, None
    except FieldError as error:
        db.session.rollback()
        return None, {error.field: error.shown()}, None
    except Conflict as error:
        db.session.rollback()
        return None, {}, error.shown()
    except ServiceError as error:
        db.session.rollback()
        return None, {}, error.shown()


def _done(endpoint: str, message: str, **values: Any) -> ResponseReturnValue:
    return see_other(url_for(endpoint, done=message, **values))


def _refused(message: str | None, errors: Errors) -> int:
    return 409 if message and not errors else 400


def _version() -> int | None:
    raw = request.form.get("version", "")
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


def _text(name: str) -> str | None:
    value = request.form.get(name, "").strip()
    return value or None


def _words(name: str) -> list[str]:
    return request.form.get(name, "").split()


def _page_number() -> int:
    raw = request.args.get("page", "1")
    return max(1, int(raw)) if raw.isdigit() and len(raw) < 7 else 1


def _pages(total: int) -> dict[str, int]:
    pages = max(1, -(-total // PAGE))
    return {"page": min(_page_number(), pages), "pages": pages, "total": total}


def _user_or_404(user_id: str) -> User:
    user = db.session.get(User, user_id) if len(user_id) <= 36 else None
    return user if user is not None else abort(404)


def _org_or_404(slug: str) -> Organization:
    org = orgs.find_org(slug) if len(slug) <= 64 else None
    return org if org is not None else abort(404)


def _group_or_404(org: Organization, group_id: str) -> Group:
    group = db.session.get(Group, group_id) if len(group_id) <= 36 else None
    return group if group is not None and group.org_id == org.id else abort(404)


def _client_or_404(client_id: str) -> Any:
    try:
        return clients.require_client(client_id)
    except NotFound:
        abort(404)


# -- dashboard -------------------------------------------------------------------------------


@bp.get("")
def index() -> ResponseReturnValue:
    until = now()
    return render_template(
        "admin/index.html", counts=overview.counts(),
        chart=overview.sign_in_chart(until), recent=audit.search(audit.Filter(), limit=10)[0])


# -- users -----------------------------------------------------------------------------------


@bp.get("/users")
def users() -> ResponseReturnValue:
    query = request.args.get("q", "")
    found, total = accounts.search_users(query, limit=PAGE, offset=(_page_number() - 1) * PAGE)
    return render_template("admin/users.html", users=found, q=query, paging=_pages(total))


@bp.route("/users/new", methods=["GET", "POST"])
def new_user() -> ResponseReturnValue:
    errors: Errors = {}
    message = None
    if request.method == "POST":
        user, errors, message = _try(lambda: accounts.create_user(
            _text("username") or "", _text("email") or "", request.form.get("password") or None,
            given_name=_text("given_name"), family_name=_text("family_name"),
            email_verified="email_verified" in request.form, admin="admin" in request.form,
            origin=_origin()))
        if user is not None:
            return _done("admin.user", "created", user_id=user.id)
    return render_template("admin/user_new.html", form=request.form, errors=errors,
                           error=message), _refused(message, errors) if request.method == "POST" \
        else 200


@bp.route("/users/<user_id>", methods=["GET", "POST"])
def user(user_id: str) -> ResponseReturnValue:
    found = _user_or_404(user_id)
    errors: Errors = {}
    message = None
    if request.method == "POST":
        changes, errors = _profile_changes(request.form)
        if not errors:
            __, errors, message = _try(lambda: accounts.update_user(
                found, changes, version=_version(), origin=_origin()))
        if not errors and not message:
            return _done("admin.user", "saved", user_id=found.id)
    return _user_page(found, errors=errors, error=message, edited=request.method == "POST",
                      status=_refused(message, errors) if request.method == "POST" else 200)


def _profile_changes(form: MultiDict[str, str]) -> tuple[dict[str, Any], Errors]:
    changes: dict[str, Any] = {name: form.get(name, "") for name in
                               ("username", "email", "given_name", "family_name", "picture",
                                "locale")}
    changes["email_verified"] = "email_verified" in form
    errors: Errors = {}
    for name in accounts.METADATA_FIELDS:
        try:
            changes[name] = json.loads(form.get(name) or "{}")
        except ValueError as error:
            errors[name] = _("This is not JSON: %(reason)s", reason=error.args[0])
    return changes, errors


def _user_page(found: User, *, errors: Errors | None = None, error: str | None = None,
               status: int = 200, edited: bool = False) -> ResponseReturnValue:
    """The user's page; ``edited``: the profile form comes back as typed (its errors),
    else every form shows what is stored."""
    return render_template(
        "admin/user.html", user=found, errors=errors or {}, error=error,
        form=request.form if edited else None,
        sessions=sessions.active_for_user(found.id), consents=consent.of_user(found),
        identities=upstreams.linked_identities(found), memberships=orgs.memberships(found.id),
        groups=orgs.user_groups(found.id), roles=apis.every_role_of(found.id),
        factor_count=factors.factor_count(found), done=request.args.get("done"),
    ), status


@bp.post("/users/<user_id>/status")
def user_status(user_id: str) -> ResponseReturnValue:
    """Disable or enable the user, or give or take the admin flag."""
    found = _user_or_404(user_id)
    action = request.form.get("action")
    changes: dict[str, Callable[[], None]] = {
        "disable": lambda: accounts.set_disabled(found, True, origin=_origin()),
        "enable": lambda: accounts.set_disabled(found, False, origin=_origin()),
        "grant-admin": lambda: accounts.set_admin(found, True, origin=_origin()),
        "revoke-admin": lambda: accounts.set_admin(found, False, origin=_origin()),
    }
    if action not in changes:
        abort(400)
    __, __, message = _try(changes[action])
    if message:
        return _user_page(found, error=message, status=409)
    return _done("admin.user", action, user_id=found.id)


@bp.post("/users/<user_id>/password")
def user_password(user_id: str) -> ResponseReturnValue:
    found = _user_or_404(user_id)
    __, errors, message = _try(lambda: accounts.set_password(
        found, request.form.get("password", ""), origin=_origin()))
    if errors or message:
        return _user_page(found, errors=errors, error=message, status=400)
    return _done("admin.user", "password", user_id=found.id)


@bp.post("/users/<user_id>/reset-link")
def user_reset_link(user_id: str) -> ResponseReturnValue:
    """Mail the user a password-reset link."""
    found = _user_or_404(user_id)
    recovery.send_link(found)
    audit.changed("password.reset_link_sent", _origin(), user_id=found.id)
    return _done("admin.user", "reset-link", user_id=found.id)


@bp.post("/users/<user_id>/reset-mfa")
def user_reset_mfa(user_id: str) -> ResponseReturnValue:
    found = _user_or_404(user_id)
    factors.reset(found, _origin())
    return _done("admin.user", "mfa", user_id=found.id)


@bp.post("/users/<user_id>/sessions/<sid>/end")
def user_end_session(user_id: str, sid: str) -> ResponseReturnValue:
    found = _user_or_404(user_id)
    if sid not in {s.sid for s in sessions.active_for_user(found.id)}:
        abort(404)
    sessions.end(sid, _origin(), user_id=found.id)
    return _done("admin.user", "session", user_id=found.id)


@bp.route("/users/<user_id>/delete", methods=["GET", "POST"])
def delete_user(user_id: str) -> ResponseReturnValue:
    found = _user_or_404(user_id)
    message = None
    if request.method == "POST":
        __, __, message = _try(lambda: accounts.delete_user(found, origin=_origin()))
        if message is None:
            return _done("admin.users", "deleted")
    if found.id == g.admin.id and message is None:
        message = _("You cannot delete yourself; another administrator can.")
    # English keeps its "(s)" in the singular too; other languages give real plural forms.
    takes = [ngettext("%(num)d open session(s), ended now",
                      "%(num)d open session(s), ended now",
                      len(sessions.active_for_user(found.id))),
             ngettext("%(num)d consent(s) and every token given to applications",
                      "%(num)d consent(s) and every token given to applications",
                      len(consent.of_user(found))),
             ngettext("%(num)d membership(s) and their groups",
                      "%(num)d membership(s) and their groups", len(orgs.memberships(found.id))),
             ngettext("%(num)d second factor(s)", "%(num)d second factor(s)",
                      factors.factor_count(found)),
             ngettext("%(num)d linked upstream account(s)", "%(num)d linked upstream account(s)",
                      len(upstreams.linked_identities(found)))]
    return render_template(
        "admin/confirm.html", title=_("Delete %(name)s?", name=found.username), takes=takes,
        error=message, action=url_for("admin.delete_user", user_id=found.id),
        back=url_for("admin.user", user_id=found.id), blocked=found.id == g.admin.id,
        note=_("The audit log keeps its events.")), 409 if message else 200


# -- organizations, memberships, groups ---------------------------------------------------


@bp.route("/orgs", methods=["GET", "POST"])
def organizations() -> ResponseReturnValue:
    errors: Errors = {}
    message = None
    if request.method == "POST":
        made, errors, message = _try(lambda: orgs.create_org(
            _text("slug") or "", _text("name") or "", require_mfa="require_mfa" in request.form,
            origin=_origin()))
        if made is not None:
            return _done("admin.organization", "created", slug=made.slug)
    return render_template(
        "admin/orgs.html", orgs=orgs.all_orgs(), errors=errors, error=message,
        form=request.form), _refused(message, errors) if request.method == "POST" else 200


@bp.route("/orgs/<slug>", methods=["GET", "POST"])
def organization(slug: str) -> ResponseReturnValue:
    org = _org_or_404(slug)
    errors: Errors = {}
    message = None
    if request.method == "POST":
        __, errors, message = _try(lambda: orgs.update_org(
            org, name=request.form.get("name", ""), require_mfa="require_mfa" in request.form,
            version=_version(), origin=_origin()))
        if not errors and not message:
            return _done("admin.organization", "saved", slug=org.slug)
    return _org_page(org, errors=errors, error=message, edited=request.method == "POST",
                     status=_refused(message, errors) if request.method == "POST" else 200)


def _org_page(org: Organization, *, errors: Errors | None = None, error: str | None = None,
              status: int = 200, edited: bool = False) -> ResponseReturnValue:
    """The organization's page; ``edited`` as for ``_user_page``."""
    groups = orgs.groups_of(org)
    return render_template(
        "admin/org.html", org=org, members=orgs.members(org), roles=ROLES,
        groups=[(group, orgs.group_members(group)) for group in groups],
        bound=orgs.bound_clients(org), errors=errors or {}, error=error,
        form=request.form if edited else None, done=request.args.get("done"),
    ), status


def _named_user(field: str = "username") -> User | None:
    return accounts.find_user(request.form.get(field, "").strip())


@bp.post("/orgs/<slug>/members")
def put_member(slug: str) -> ResponseReturnValue:
    org = _org_or_404(slug)
    member = _named_user()
    if member is None:
        return _org_page(org, errors={"member": _("No user has this username or email.")},
                         status=400)
    __, __, message = _try(lambda: orgs.add_member(
        org, member, request.form.get("role", "member"), origin=_origin()))
    if message:
        return _org_page(org, errors={"member": message}, status=400)
    return _done("admin.organization", "member", slug=org.slug)


@bp.post("/orgs/<slug>/invite")
def invite(slug: str) -> ResponseReturnValue:
    """Mail an invitation to join the organization."""
    org = _org_or_404(slug)
    __, errors, message = _try(lambda: invitations.invite(
        org, request.form.get("email", ""), request.form.get("role", "member"),
        origin=_origin()))
    if errors or message:
        return _org_page(org, errors={"invite": message or next(iter(errors.values()))},
                         status=400)
    return _done("admin.organization", "invited", slug=org.slug)


@bp.post("/orgs/<slug>/members/<user_id>/remove")
def remove_member(slug: str, user_id: str) -> ResponseReturnValue:
    org, member = _org_or_404(slug), _user_or_404(user_id)
    __, __, message = _try(lambda: orgs.remove_member(org, member, origin=_origin()))
    if message:
        return _org_page(org, error=message, status=409)
    return _done("admin.organization", "removed", slug=org.slug)


@bp.post("/orgs/<slug>/groups")
def create_group(slug: str) -> ResponseReturnValue:
    org = _org_or_404(slug)
    __, __, message = _try(lambda: orgs.create_group(org, request.form.get("name", "").strip(),
                                                    origin=_origin()))
    if message:
        return _org_page(org, errors={"group": message}, status=400)
    return _done("admin.organization", "group", slug=org.slug)


@bp.post("/orgs/<slug>/groups/<group_id>")
def change_group(slug: str, group_id: str) -> ResponseReturnValue:
    """Rename a group, delete it, or add a member (the button pressed says which)."""
    org = _org_or_404(slug)
    group = _group_or_404(org, group_id)
    action = request.form.get("action")
    if action == "rename":
        __, errors, message = _try(lambda: orgs.rename_group(
            group, request.form.get("name", "").strip(), origin=_origin()))
    elif action == "delete":
        __, errors, message = _try(lambda: orgs.delete_group(group, origin=_origin()))
    elif action == "add":
        if (member := _named_user()) is None:
            return _org_page(org, errors={f"group-{group.id}": _(
                "No user has this username or email.")}, status=400)
        __, errors, message = _try(lambda: orgs.add_group_member(group, member,
                                                                 origin=_origin()))
    else:
        abort(400)
    if errors or message:
        detail = message or next(iter(errors.values()))
        return _org_page(org, errors={f"group-{group.id}": detail}, status=400)
    return _done("admin.organization", "group", slug=org.slug)


@bp.post("/orgs/<slug>/groups/<group_id>/members/<user_id>/remove")
def remove_group_member(slug: str, group_id: str, user_id: str) -> ResponseReturnValue:
    org = _org_or_404(slug)
    group, member = _group_or_404(org, group_id), _user_or_404(user_id)
    __, __, message = _try(lambda: orgs.remove_group_member(group, member, origin=_origin()))
    if message:
        return _org_page(org, error=message, status=409)
    return _done("admin.organization", "group", slug=org.slug)


@bp.route("/orgs/<slug>/delete", methods=["GET", "POST"])
def delete_org(slug: str) -> ResponseReturnValue:
    org = _org_or_404(slug)
    message = None
    if request.method == "POST":
        __, __, message = _try(lambda: orgs.delete_org(org, origin=_origin()))
        if message is None:
            return _done("admin.organizations", "deleted")
    elif bound := orgs.bound_clients(org):
        message = ngettext(
            "%(num)d client(s) are bound to this organization (%(client_ids)s). Bind them "
            "elsewhere or delete them first.",
            "%(num)d client(s) are bound to this organization (%(client_ids)s). Bind them "
            "elsewhere or delete them first.",
            len(bound), client_ids=", ".join(c.client_id for c in bound[:5]))
    takes = [ngettext("%(num)d membership(s): the people stay, outside it",
                      "%(num)d membership(s): the people stay, outside it",
                      len(orgs.members(org))),
             ngettext("%(num)d group(s)", "%(num)d group(s)", len(orgs.groups_of(org))),
             _("its name in tokens issued from now on (tokens already issued keep it)")]
    return render_template(
        "admin/confirm.html", title=_("Delete %(name)s?", name=org.name), takes=takes,
        error=message, blocked=bool(message), action=url_for("admin.delete_org", slug=org.slug),
        back=url_for("admin.organization", slug=org.slug)), 409 if message else 200


# -- clients ---------------------------------------------------------------------------------


CHOICES = {"auth_method": AUTH_METHODS, "id_token_alg": ID_TOKEN_ALGS,
           "access_token_alg": ACCESS_TOKEN_ALGS, "token_profile": TOKEN_PROFILES,
           "grant_types": GRANT_TYPES}


def _client_settings(form: MultiDict[str, str]) -> tuple[dict[str, Any], Errors]:
    """The client form as ``clients.SETTINGS`` (lists one per line, numbers checked)."""
    settings: dict[str, Any] = {}
    errors: Errors = {}
    for name in clients.SETTINGS:
        if name == "grant_types":
            settings[name] = form.getlist(name)
        elif name in clients.LISTS:
            settings[name] = form.get(name, "").split()
        elif name in clients.BOOLEANS:
            settings[name] = name in form
        elif name in clients.INTEGERS:
            raw = form.get(name, "").strip()
            if raw.isascii() and raw.isdigit() and len(raw) < 10:
                settings[name] = int(raw)
            else:
                errors[name] = _("A whole number.")
        else:
            settings[name] = form.get(name, "").strip() or None
    return settings, errors


def _client_form(values: dict[str, Any], *, client: Any = None, errors: Errors | None = None,
                 error: str | None = None, secret: str | None = None,
                 status: int = 200) -> ResponseReturnValue:
    return render_template(
        "admin/client.html", client=client, values=values, errors=errors or {}, error=error,
        secret=secret, choices=CHOICES, orgs=orgs.all_orgs(), apis=apis.all_apis(),
        done=request.args.get("done"),
    ), status


@bp.get("/clients")
def client_list() -> ResponseReturnValue:
    return render_template("admin/clients.html", clients=clients.all_clients())


@bp.route("/clients/new", methods=["GET", "POST"])
def new_client() -> ResponseReturnValue:
    if request.method == "GET":
        return _client_form({**clients.DEFAULTS, "name": "", "grant_types":
                             ["authorization_code", "refresh_token"]})
    settings, errors = _client_settings(request.form)
    made, found, message = (None, {}, None) if errors else _try(lambda: clients.create_client(
        settings.pop("name") or "", client_id=_text("client_id"), origin=_origin(), **settings))
    errors.update(found)
    if made is None:
        return _client_form({**clients.DEFAULTS, **_client_settings(request.form)[0],
                             "client_id": request.form.get("client_id", "")},
                            errors=errors, error=message, status=_refused(message, errors))
    if made.client_secret is None:  # a public client
        return _done("admin.client", "created", client_id=made.client.client_id)
    return _show_once(made.client_secret, "admin.client", client_id=made.client.client_id)


@bp.route("/clients/<client_id>", methods=["GET", "POST"])
def client(client_id: str) -> ResponseReturnValue:
    found = _client_or_404(client_id)
    if request.method == "GET":
        return _client_form(clients.settings_of(found), client=found, secret=_shown_once())
    settings, errors = _client_settings(request.form)
    message = None
    if not errors:
        __, errors, message = _try(lambda: clients.update_client(
            found, settings, version=_version(), origin=_origin()))
    if errors or message:
        return _client_form({**clients.settings_of(found), **_client_settings(request.form)[0]},
                            client=found, errors=errors, error=message,
                            status=_refused(message, errors))
    return _done("admin.client", "saved", client_id=found.client_id)


@bp.post("/clients/<client_id>/secret")
def rotate_client_secret(client_id: str) -> ResponseReturnValue:
    found = _client_or_404(client_id)
    secret, __, message = _try(lambda: clients.rotate_secret(found, origin=_origin()))
    if message:
        return _client_form(clients.settings_of(found), client=found, error=message,
                            status=409)
    return _show_once(secret, "admin.client", client_id=found.client_id)


@bp.post("/clients/<client_id>/status")
def client_status(client_id: str) -> ResponseReturnValue:
    found = _client_or_404(client_id)
    action = request.form.get("action")
    if action not in ("disable", "enable"):
        abort(400)
    clients.set_disabled(found, action == "disable", origin=_origin())
    return _done("admin.client", action, client_id=found.client_id)


@bp.route("/clients/<client_id>/delete", methods=["GET", "POST"])
def delete_client(client_id: str) -> ResponseReturnValue:
    found = _client_or_404(client_id)
    if request.method == "POST":
        clients.delete_client(found, origin=_origin())
        return _done("admin.client_list", "deleted")
    takes = [_("every token, refresh token and code it holds: they stop working now"),
             _("every consent given to it: people are asked again if it comes back"),
             _("sign-ins in progress through it")]
    return render_template(
        "admin/confirm.html", title=_("Delete %(name)s?", name=found.name), takes=takes,
        action=url_for("admin.delete_client", client_id=found.client_id),
        back=url_for("admin.client", client_id=found.client_id),
        note=_("Disabling it instead keeps its settings and can be undone."))


# -- APIs, roles, upstream providers --------------------------------------------------------


def _apis_page(*, errors: Errors | None = None, error: str | None = None,
               secret: tuple[str, str] | None = None, status: int = 200) -> ResponseReturnValue:
    return render_template(
        "admin/apis.html", apis=apis.all_apis(), roles=apis.all_roles(), errors=errors or {},
        error=error, secret=secret, algs=ACCESS_TOKEN_ALGS, form=request.form,
        done=request.args.get("done")), status


@bp.route("/apis", methods=["GET", "POST"])
def api_list() -> ResponseReturnValue:
    if request.method == "GET":
        return _apis_page(secret=_shown_once())
    ttl = request.form.get("access_token_ttl", "300").strip()
    if not (ttl.isascii() and ttl.isdigit() and len(ttl) < 10):
        return _apis_page(errors={"access_token_ttl": _("A whole number of seconds.")},
                          status=400)
    made, errors, message = _try(lambda: apis.create_api(
        _text("identifier") or "", _text("name") or "", request.form.get("scope", ""),
        access_token_alg=request.form.get("access_token_alg", "RS256"),
        access_token_ttl=int(ttl), origin=_origin()))
    if made is None:
        return _apis_page(errors=errors, error=message, status=400)
    return _show_once([made.api.client_id, made.client_secret], "admin.api_list")


@bp.post("/roles")
def create_role() -> ResponseReturnValue:
    __, errors, message = _try(lambda: apis.create_role(
        _text("name") or "", _words("permissions"), api=_text("api"),
        description=_text("description"), origin=_origin()))
    if errors or message:
        return _apis_page(errors={"role": message or next(iter(errors.values()))}, status=400)
    return _done("admin.api_list", "role")


@bp.post("/roles/<role_id>/assign")
def assign_role(role_id: str) -> ResponseReturnValue:
    role = apis.role_by_id(role_id) if len(role_id) <= 36 else None
    if role is None:
        abort(404)
    member = _named_user()
    if member is None:
        return _apis_page(errors={f"role-{role.id}": _("No user has this username or email.")},
                          status=400)
    apis.assign_role(role, user=member, origin=_origin())
    return _done("admin.api_list", "assigned")


@bp.route("/upstreams", methods=["GET", "POST"])
def upstream_list() -> ResponseReturnValue:
    errors: Errors = {}
    message = None
    if request.method == "POST":
        made, errors, message = _try(lambda: upstreams.create_upstream(
            _text("id") or "", _text("name") or "", client_id=_text("client_id") or "",
            client_secret=request.form.get("client_secret", ""), issuer=_text("issuer"),
            authorize_url=_text("authorize_url"), token_url=_text("token_url"),
            userinfo_url=_text("userinfo_url"), scope=_text("scope"),
            link_by_verified_email="link_by_verified_email" in request.form,
            create_users="create_users" in request.form, org=_text("org"),
            groups_claim=_text("groups_claim"), origin=_origin()))
        if made is not None:
            return _done("admin.upstream_list", "created")
    return render_template(
        "admin/upstreams.html", upstreams=upstreams.all_upstreams(), orgs=orgs.all_orgs(),
        errors=errors, error=message, form=request.form, done=request.args.get("done"),
        callback=callback_url,
    ), _refused(message, errors) if request.method == "POST" else 200


@bp.post("/upstreams/<upstream_id>/delete")
def delete_upstream(upstream_id: str) -> ResponseReturnValue:
    __, __, message = _try(lambda: upstreams.delete_upstream(
        upstream_id, force="force" in request.form, origin=_origin()))
    if message:
        return render_template(
            "admin/upstreams.html", upstreams=upstreams.all_upstreams(), orgs=orgs.all_orgs(),
            errors={}, error=message, form={}, done=None, stranded=upstream_id,
            callback=callback_url), 409
    return _done("admin.upstream_list", "deleted")


# -- signing keys ----------------------------------------------------------------------------


@bp.get("/keys")
def key_list() -> ResponseReturnValue:
    return render_template("admin/keys.html", keys=keys.states(), algs=keys.KEY_ALGS,
                           done=request.args.get("done"), error=None)


@bp.post("/keys")
def rotate_key() -> ResponseReturnValue:
    alg = request.form.get("alg", "")
    if alg not in keys.KEY_ALGS:
        abort(400)
    keys.rotate(alg, _origin())
    return _done("admin.key_list", "rotated")


@bp.post("/keys/<kid>/withdraw")
def withdraw_key(kid: str) -> ResponseReturnValue:
    __, __, message = _try(lambda: keys.withdraw(kid, _origin()))
    if message:
        return render_template("admin/keys.html", keys=keys.states(), algs=keys.KEY_ALGS,
                               done=None, error=message), 409
    return _done("admin.key_list", "withdrawn")


# -- the audit log ---------------------------------------------------------------------------


@bp.get("/audit")
def audit_log() -> ResponseReturnValue:
    what, problem = _audit_filter()
    if problem:
        return render_template("admin/audit.html", events=[], paging=_pages(0), error=problem,
                               args=request.args), 400
    export = request.args.get("format")
    if export in ("jsonl", "csv"):
        return export_events(audit.search(what, limit=100_000)[0], export)
    events, total = audit.search(what, limit=PAGE, offset=(_page_number() - 1) * PAGE)
    return render_template("admin/audit.html", events=events, paging=_pages(total), error=None,
                           args=request.args)


def _audit_filter() -> tuple[audit.Filter, str | None]:
    """The filter form: times as the browser's datetime-local, in UTC."""
    moments: dict[str, int | None] = {}
    for name in ("since", "until"):
        raw = request.args.get(name, "")
        if not raw:
            moments[name] = None
            continue
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            return audit.Filter(), _("'%(value)s' is not a date and time.", value=raw)
        try:  # the form's datetime-local is UTC; an explicit offset is honoured
            moments[name] = int((moment.replace(tzinfo=UTC) if moment.tzinfo is None
                                 else moment.astimezone(UTC)).timestamp())
        except (OverflowError, OSError, ValueError):
            return audit.Filter(), _("'%(value)s' is not a date and time.", value=raw)
    user_id = None
    if who := request.args.get("user", "").strip():
        found = accounts.find_user(who)
        user_id = found.id if found else who
    return audit.Filter(since=moments["since"], until=moments["until"],
                        tag=request.args.get("tag", "").strip() or None, user_id=user_id,
                        client_id=request.args.get("client_id", "").strip() or None,
                        ip=request.args.get("ip", "").strip() or None), None
