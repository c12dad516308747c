"""The admin API (``/admin/api/v1``): the console's objects as JSON, for scripts.

Rules:
- every request carries a Bearer access token of ours with the scope
  ``idp:admin``: a client_credentials client registered with it, or an
  administrator's own token (``claims.without_privileges`` grants it to no one
  else, and an administrator who lost the flag is refused here at once);
- lists are ``{"items", "total", "limit", "offset"}`` (``limit`` 1 to 200,
  default 50) with filters as query parameters;
- users, organizations and clients carry a version: ``ETag`` on reading, and
  ``If-Match`` required to change or delete one (428 without it, 412 when it
  changed meanwhile);
- errors are RFC 9457 problem details (``application/problem+json``); a bad
  field is 422 with ``errors: [{"field", "detail"}]``, a broken rule 409;
- every change goes through the same services as the command line and the
  console, in one transaction, and is an audit event naming the actor.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any, NoReturn

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from ..errors import problem_response
from ..extensions import csrf, db
from ..models import Client, Group, Organization, User
from ..oauth import keys
from ..oauth.bearer import protector
from ..oauth.claims import ADMIN_SCOPE
from ..services import (
    Conflict,
    FieldError,
    NotFound,
    ServiceError,
    Taken,
    accounts,
    apis,
    audit,
    clients,
    factors,
    orgs,
    sessions,
    upstreams,
)
from . import _admin_json as view
from ._request import origin

bp = Blueprint("admin_api", __name__, url_prefix="/admin/api/v1")
csrf.exempt(bp)

MAX_LIMIT = 200
EXPORT_LIMIT = 100_000


class Problem(Exception):
    def __init__(self, status: int, detail: str, kind: str = "about:blank",
                 errors: list[dict[str, str]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.kind = status, detail, kind
        self.errors, self.headers = errors, headers or {}


@bp.errorhandler(Problem)
def _problem(error: Problem) -> Response:
    db.session.rollback()
    response = problem_response(error.status, error.detail, error.kind, error.errors)
    response.headers.update(error.headers)
    return response


@bp.errorhandler(HTTPException)
def _http(error: HTTPException) -> Response:
    response = problem_response(error.code or 500, error.description or "")
    if error.code == 405 and (allow := error.get_response().headers.get("Allow")):
        response.headers["Allow"] = allow
    return response


@bp.before_request
def _authenticate() -> None:
    """The caller: an administrator's token, or an admin client's."""
    try:
        token = protector.acquire_token(ADMIN_SCOPE)
    except OAuth2Error as error:
        status = error.status_code or 401
        scheme = 'Bearer error="insufficient_scope", scope="idp:admin"' if status == 403 \
            else f'Bearer error="{error.error}"'
        raise Problem(status, error.description or "A valid admin access token is needed.",
                      headers={"WWW-Authenticate": scheme}) from None
    if token.user is not None:
        if not token.user.admin:
            raise Problem(403, "This user is not an administrator.",
                          headers={"WWW-Authenticate":
                                   'Bearer error="insufficient_scope", scope="idp:admin"'})
        g.admin_actor, g.admin_user = token.user.id, token.user
    else:
        if ADMIN_SCOPE not in token.client.scopes:
            raise Problem(403, "This client is not registered for the admin API.")
        g.admin_actor, g.admin_user = f"client:{token.client.client_id}", None


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "no-store")
    return response


# -- helpers ---------------------------------------------------------------------------------


def _origin() -> audit.Origin:
    """Where the request came from, naming the administrator or admin client."""
    return origin().by(str(g.admin_actor))


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Problem(400, "Send a JSON object (Content-Type: application/json).")
    return body


def _page() -> tuple[int, int]:
    try:
        limit = int(request.args.get("limit", 50))
        offset = int(request.args.get("offset", 0))
    except ValueError:
        raise Problem(400, "'limit' and 'offset' are whole numbers.") from None
    if not 1 <= limit <= MAX_LIMIT or offset < 0:
        raise Problem(400, f"'limit' is 1 to {MAX_LIMIT}, 'offset' 0 or more.")
    return limit, offset


def _listing(items: list[dict[str, Any]], total: int, limit: int, offset: int) -> Response:
    return jsonify(items=items, total=total, limit=limit, offset=offset)


def _paged(rows: list[Any], shape: Callable[[Any], dict[str, Any]]) -> Response:
    limit, offset = _page()
    return _listing([shape(r) for r in rows[offset:offset + limit]], len(rows), limit, offset)


def _one(body: dict[str, Any], version: int | None = None, status: int = 200,
         location: str | None = None) -> Response:
    response = jsonify(body)
    response.status_code = status
    if version is not None:
        response.headers["ETag"] = f'"{version}"'
    if location:
        response.headers["Location"] = location
    return response


def _if_match(version: int) -> int:
    """The version an update or a deletion is made against (``If-Match``)."""
    header = request.headers.get("If-Match")
    if not header:
        raise Problem(428, "Send If-Match with the ETag you read, so that a change made "
                      "meanwhile is not overwritten.", "urn:idp:problem:precondition-required")
    tags = [t.strip().removeprefix("W/").strip('"') for t in header.split(",")]
    if "*" not in tags and str(version) not in tags:
        raise Problem(412, "It was changed meanwhile; read it again.",
                      "urn:idp:problem:changed")
    return version


def _invalid(field: str, detail: str, message: str) -> Problem:
    """A 422 naming the field a value was refused for."""
    return Problem(422, message, "urn:idp:problem:invalid",
                   errors=[{"field": field, "detail": detail}])


def _only(body: dict[str, Any], known: set[str]) -> None:
    """Refuse a field the object does not have."""
    if unknown := set(body) - known:
        field = sorted(unknown)[0]
        raise _invalid(field, "unknown field", f"Unknown field {field!r}.")


def _run(action: Callable[[], Any]) -> Any:
    """A service call, its broken rules as problems (422, 404, 412, 409)."""
    try:
        return action()
    except Taken as error:
        raise Problem(409, str(error), "urn:idp:problem:taken",
                      errors=[{"field": error.field, "detail": str(error)}]) from None
    except FieldError as error:
        raise _invalid(error.field, str(error), str(error)) from None
    except NotFound as error:
        raise Problem(404, str(error)) from None
    except Conflict as error:
        raise Problem(412, str(error), "urn:idp:problem:changed") from None
    except ServiceError as error:
        raise Problem(409, str(error), "urn:idp:problem:refused") from None


def _missing(what: str) -> NoReturn:
    raise Problem(404, f"No such {what}.")


def _user(user_id: str) -> User:
    user = db.session.get(User, user_id) if len(user_id) <= 36 else None
    return user if user is not None else _missing("user")


def _org(slug: str) -> Organization:
    org = orgs.find_org(slug) if len(slug) <= 64 else None
    return org if org is not None else _missing("organization")


def _group(org: Organization, group_id: str) -> Group:
    group = db.session.get(Group, group_id) if len(group_id) <= 36 else None
    return group if group is not None and group.org_id == org.id else _missing("group")


def _client(client_id: str) -> Client:
    client: Client = _run(lambda: clients.require_client(client_id))
    return client


def _text(body: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise _invalid(name, "required text", f"'{name}' is required text.")
    return value


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise _invalid(name, "true or false", f"'{name}' is true or false.")
    return value


# -- users -----------------------------------------------------------------------------------


@bp.get("/users")
def list_users() -> Response:
    limit, offset = _page()
    found, total = accounts.search_users(request.args.get("q", ""), limit=limit, offset=offset)
    return _listing([view.user(u) for u in found], total, limit, offset)


@bp.post("/users")
def create_user() -> Response:
    body = _body()
    known = {"username", "email", "password", "given_name", "family_name", "email_verified",
             "admin"}
    _only(body, known)
    user = _run(lambda: accounts.create_user(
        _text(body, "username") or "", _text(body, "email") or "",
        _text(body, "password", required=False), given_name=body.get("given_name"),
        family_name=body.get("family_name"), email_verified=_flag(body, "email_verified"),
        admin=_flag(body, "admin"), origin=_origin()))
    return _one(view.user(user), user.version, 201, f"{request.path}/{user.id}")


@bp.get("/users/<user_id>")
def show_user(user_id: str) -> Response:
    user = _user(user_id)
    return _one(view.user_detail(user), user.version)


@bp.patch("/users/<user_id>")
def update_user(user_id: str) -> Response:
    user = _user(user_id)
    version = _if_match(user.version)
    body = _body()
    switches = {k: _flag(body, k) for k in ("disabled", "admin") if k in body}
    for name in switches:
        body.pop(name)
    _run(lambda: accounts.update_user(user, body, version=version, origin=_origin()))
    if "disabled" in switches:
        _run(lambda: accounts.set_disabled(user, switches["disabled"],
                                           origin=_origin()))
    if "admin" in switches:
        _run(lambda: accounts.set_admin(user, switches["admin"], origin=_origin()))
    return _one(view.user(user), user.version)


@bp.delete("/users/<user_id>")
def delete_user(user_id: str) -> Response:
    user = _user(user_id)
    _if_match(user.version)
    _run(lambda: accounts.delete_user(user, origin=_origin()))
    return Response(status=204)


@bp.put("/users/<user_id>/password")
def set_password(user_id: str) -> Response:
    user = _user(user_id)
    password = _text(_body(), "password") or ""
    _run(lambda: accounts.set_password(user, password, origin=_origin()))
    return Response(status=204)


@bp.post("/users/<user_id>/reset-mfa")
def reset_mfa(user_id: str) -> Response:
    user = _user(user_id)
    removed = factors.reset(user, _origin())
    return jsonify(factors_removed=removed)


@bp.get("/users/<user_id>/sessions")
def user_sessions(user_id: str) -> Response:
    return _paged(sessions.active_for_user(_user(user_id).id), view.session)


@bp.delete("/users/<user_id>/sessions/<sid>")
def end_user_session(user_id: str, sid: str) -> Response:
    user = _user(user_id)
    if sid not in {s.sid for s in sessions.active_for_user(user.id)}:
        _missing("session")
    sessions.end(sid, _origin(), user_id=user.id)
    return Response(status=204)


# -- organizations, memberships, groups ---------------------------------------------------


@bp.get("/orgs")
def list_orgs() -> Response:
    return _paged(orgs.all_orgs(), view.org)


@bp.post("/orgs")
def create_org() -> Response:
    body = _body()
    org = _run(lambda: orgs.create_org(_text(body, "slug") or "", _text(body, "name") or "",
                                       require_mfa=_flag(body, "require_mfa"), origin=_origin()))
    return _one(view.org(org), org.version, 201, f"{request.path}/{org.slug}")


@bp.get("/orgs/<slug>")
def show_org(slug: str) -> Response:
    org = _org(slug)
    return _one(view.org_detail(org), org.version)


@bp.patch("/orgs/<slug>")
def update_org(slug: str) -> Response:
    org = _org(slug)
    version = _if_match(org.version)
    body = _body()
    _only(body, {"name", "require_mfa"})
    mfa = _flag(body, "require_mfa") if "require_mfa" in body else None
    _run(lambda: orgs.update_org(org, name=_text(body, "name", required=False),
                                 require_mfa=mfa, version=version, origin=_origin()))
    return _one(view.org(org), org.version)


@bp.delete("/orgs/<slug>")
def delete_org(slug: str) -> Response:
    org = _org(slug)
    _if_match(org.version)
    _run(lambda: orgs.delete_org(org, origin=_origin()))
    return Response(status=204)


@bp.put("/orgs/<slug>/members/<user_id>")
def put_member(slug: str, user_id: str) -> Response:
    org, user = _org(slug), _user(user_id)
    role = _text(_body(), "role", required=False) or "member"
    membership = _run(lambda: orgs.add_member(org, user, role, origin=_origin()))
    return jsonify(view.member(membership, user))


@bp.delete("/orgs/<slug>/members/<user_id>")
def remove_member(slug: str, user_id: str) -> Response:
    org, user = _org(slug), _user(user_id)
    _run(lambda: orgs.remove_member(org, user, origin=_origin()))
    return Response(status=204)


@bp.post("/orgs/<slug>/groups")
def create_group(slug: str) -> Response:
    org = _org(slug)
    group = _run(lambda: orgs.create_group(org, _text(_body(), "name") or "",
                                           origin=_origin()))
    return _one(view.group(group, org), status=201,
                location=f"{request.path}/{group.id}")


@bp.patch("/orgs/<slug>/groups/<group_id>")
def rename_group(slug: str, group_id: str) -> Response:
    org = _org(slug)
    group = _group(org, group_id)
    _run(lambda: orgs.rename_group(group, _text(_body(), "name") or "", origin=_origin()))
    return jsonify(view.group(group, org))


@bp.delete("/orgs/<slug>/groups/<group_id>")
def delete_group(slug: str, group_id: str) -> Response:
    org = _org(slug)
    group = _group(org, group_id)
    orgs.delete_group(group, origin=_origin())
    return Response(status=204)


@bp.put("/orgs/<slug>/groups/<group_id>/members/<user_id>")
def put_group_member(slug: str, group_id: str, user_id: str) -> Response:
    org = _org(slug)
    group, user = _group(org, group_id), _user(user_id)
    _run(lambda: orgs.add_group_member(group, user, origin=_origin()))
    return Response(status=204)


@bp.delete("/orgs/<slug>/groups/<group_id>/members/<user_id>")
def remove_group_member(slug: str, group_id: str, user_id: str) -> Response:
    org = _org(slug)
    group, user = _group(org, group_id), _user(user_id)
    _run(lambda: orgs.remove_group_member(group, user, origin=_origin()))
    return Response(status=204)


# -- clients ---------------------------------------------------------------------------------


@bp.get("/clients")
def list_clients() -> Response:
    return _paged(clients.all_clients(), view.client)


@bp.post("/clients")
def create_client() -> Response:
    body = _body()
    client_id = body.pop("client_id", None)
    secret = body.pop("client_secret", None)
    name = _text(body, "name") or ""
    body.pop("name")
    if not all(isinstance(v, str) or v is None for v in (client_id, secret)):
        raise Problem(422, "'client_id' and 'client_secret' are text.",
                      "urn:idp:problem:invalid")
    new = _run(lambda: clients.create_client(name, client_id=client_id, client_secret=secret,
                                             origin=_origin(), **_settings(body)))
    return _one({**view.client(new.client), "client_secret": new.client_secret},
                new.client.version, 201, f"{request.path}/{new.client.client_id}")


def _settings(body: dict[str, Any]) -> dict[str, Any]:
    if unknown := set(body) - set(clients.SETTINGS):
        field = sorted(unknown)[0]
        raise _invalid(field, "not a client setting", f"{field!r} is not a client setting.")
    return body


@bp.get("/clients/<client_id>")
def show_client(client_id: str) -> Response:
    client = _client(client_id)
    return _one(view.client(client), client.version)


@bp.patch("/clients/<client_id>")
def update_client(client_id: str) -> Response:
    client = _client(client_id)
    version = _if_match(client.version)
    body = _body()
    disabled = _flag(body, "disabled") if "disabled" in body else None
    body.pop("disabled", None)
    _run(lambda: clients.update_client(client, _settings(body), version=version,
                                       origin=_origin()))
    if disabled is not None:
        clients.set_disabled(client, disabled, origin=_origin())
    return _one(view.client(client), client.version)


@bp.delete("/clients/<client_id>")
def delete_client(client_id: str) -> Response:
    client = _client(client_id)
    _if_match(client.version)
    clients.delete_client(client, origin=_origin())
    return Response(status=204)


@bp.post("/clients/<client_id>/secret")
def rotate_secret(client_id: str) -> Response:
    client = _client(client_id)
    secret = _run(lambda: clients.rotate_secret(client, origin=_origin()))
    return jsonify(client_id=client.client_id, client_secret=secret)


# -- APIs, roles, upstreams, keys ------------------------------------------------------------


@bp.get("/apis")
def list_apis() -> Response:
    return _paged(apis.all_apis(), view.api)


@bp.post("/apis")
def create_api() -> Response:
    body = _body()
    descriptions = body.get("descriptions") or {}
    ttl = body.get("access_token_ttl", 300)
    if not isinstance(descriptions, dict) or isinstance(ttl, bool) or not isinstance(ttl, int):
        raise Problem(422, "'descriptions' is an object of texts, 'access_token_ttl' a whole "
                      "number.", "urn:idp:problem:invalid")
    new = _run(lambda: apis.create_api(
        _text(body, "identifier") or "", _text(body, "name") or "",
        _text(body, "scope", required=False) or "", descriptions=descriptions,
        access_token_alg=_text(body, "access_token_alg", required=False) or "RS256",
        access_token_ttl=ttl, origin=_origin()))
    return _one({**view.api(new.api), "client_secret": new.client_secret}, status=201)


@bp.get("/roles")
def list_roles() -> Response:
    return _paged(apis.all_roles(), view.role)


@bp.post("/roles")
def create_role() -> Response:
    body = _body()
    permissions = body.get("permissions", [])
    if not isinstance(permissions, list) or not all(isinstance(p, str) for p in permissions):
        raise _invalid("permissions", "a list of texts", "'permissions' is a list of texts.")
    role = _run(lambda: apis.create_role(
        _text(body, "name") or "", permissions, api=_text(body, "api", required=False),
        description=_text(body, "description", required=False), origin=_origin()))
    return _one(view.role(role), status=201)


@bp.post("/roles/<role_id>/assignments")
def assign_role(role_id: str) -> Response:
    role = apis.role_by_id(role_id) if len(role_id) <= 36 else None
    if role is None:
        _missing("role")
    body = _body()
    if "user_id" in body:
        user = _user(str(body["user_id"]))
        _run(lambda: apis.assign_role(role, user=user, origin=_origin()))
    elif "group_id" in body:
        group_id = str(body["group_id"])
        _run(lambda: apis.assign_role(role, group_id=group_id, origin=_origin()))
    else:
        raise Problem(422, "Send 'user_id' or 'group_id'.", "urn:idp:problem:invalid")
    return Response(status=204)


@bp.get("/upstreams")
def list_upstreams() -> Response:
    return _paged(upstreams.all_upstreams(), view.upstream)


@bp.post("/upstreams")
def create_upstream() -> Response:
    body = _body()
    claims = body.get("claims") or {}
    if not isinstance(claims, dict):
        raise Problem(422, "'claims' maps claim names to the upstream's fields.",
                      "urn:idp:problem:invalid")
    upstream = _run(lambda: upstreams.create_upstream(
        _text(body, "id") or "", _text(body, "name") or "",
        client_id=_text(body, "client_id") or "", client_secret=_text(body, "client_secret")
        or "", issuer=_text(body, "issuer", required=False),
        authorize_url=_text(body, "authorize_url", required=False),
        token_url=_text(body, "token_url", required=False),
        userinfo_url=_text(body, "userinfo_url", required=False),
        scope=_text(body, "scope", required=False), claims=claims,
        link_by_verified_email=_flag(body, "link_by_verified_email"),
        create_users=_flag(body, "create_users"), org=_text(body, "org", required=False),
        groups_claim=_text(body, "groups_claim", required=False), origin=_origin()))
    return _one(view.upstream(upstream), status=201)


@bp.delete("/upstreams/<upstream_id>")
def delete_upstream(upstream_id: str) -> Response:
    force = request.args.get("force") == "true"
    _run(lambda: upstreams.delete_upstream(upstream_id, force=force, origin=_origin()))
    return Response(status=204)


@bp.get("/keys")
def list_keys() -> Response:
    return _paged(keys.states(), view.key)


@bp.post("/keys")
def rotate_key() -> Response:
    alg = _text(_body(), "alg") or ""
    if alg not in keys.KEY_ALGS:
        raise _invalid("alg", "unknown", f"'alg' is one of {', '.join(keys.KEY_ALGS)}.")
    key = keys.rotate(alg, _origin())
    return _one(view.key((key, "current")), status=201)


@bp.delete("/keys/<kid>")
def withdraw_key(kid: str) -> Response:
    _run(lambda: keys.withdraw(kid, _origin()))
    return Response(status=204)


# -- the audit log ---------------------------------------------------------------------------


def audit_filter() -> audit.Filter:
    def moment(name: str) -> int | None:
        raw = request.args.get(name)
        if not raw:
            return None
        if not raw.isascii() or not raw.isdigit() or len(raw) > 12:
            raise Problem(400, f"'{name}' is seconds since the epoch.")
        return int(raw)

    return audit.Filter(since=moment("since"), until=moment("until"),
                        tag=request.args.get("tag") or None,
                        user_id=request.args.get("user_id") or None,
                        client_id=request.args.get("client_id") or None,
                        ip=request.args.get("ip") or None)


@bp.get("/audit-events")
def list_audit_events() -> Response:
    what = audit_filter()
    export = request.args.get("format")
    if export in ("jsonl", "csv"):
        events, _ = audit.search(what, limit=EXPORT_LIMIT)
        return export_events(events, export)
    if export is not None:
        raise Problem(400, "'format' is jsonl or csv.")
    limit, offset = _page()
    events, total = audit.search(what, limit=limit, offset=offset)
    return _listing([audit.as_dict(e) for e in events], total, limit, offset)


def export_events(events: list[Any], export: str) -> Response:
    """The events as JSON lines or CSV, for download (the console's export too)."""
    if export == "jsonl":
        text = "".join(json.dumps(audit.as_dict(e)) + "\n" for e in events)
        mimetype, suffix = "application/jsonl", "jsonl"
    else:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["id", "at", "tag", "user_id", "client_id", "ip", "user_agent",
                         "details"])
        for e in events:
            writer.writerow([_cell(v) for v in (
                e.id, e.at, e.tag, e.user_id or "", e.client_id or "", e.ip or "",
                e.user_agent or "", json.dumps(e.details))])
        text, mimetype, suffix = out.getvalue(), "text/csv", "csv"
    response = Response(text, mimetype=mimetype)
    name = current_app.config["IDP_ISSUER"].split("//")[-1].replace(":", "-")
    response.headers["Content-Disposition"] = f'attachment; filename="audit-{name}.{suffix}"'
    return response


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: one starting with = + - @ (a user agent
    can say anything) would otherwise be read as a formula."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
