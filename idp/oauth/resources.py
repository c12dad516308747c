"""Resource indicators (RFC 8707): which API a token is for.

Rules:
- ``resource`` (repeatable, at the authorization and token endpoints) is an
  absolute URI without a fragment naming a registered API the client may use
  (any, unless it is limited to some); anything else is ``invalid_target``;
- without ``resource``, the client's default API applies; without one, the
  token is for no API and its ``aud`` is the client (RFC 9068 §3 allows it);
- the resources an authorization request names are granted with it (kept on
  the code and the grant); at the token endpoint ``resource`` picks among them,
  never more (``invalid_target``); with several granted, naming one is required,
  so that no token has several audiences (RFC 8707 §3);
- a token for an API has the API's identifier as ``aud``, its algorithm, and
  the shorter of the client's and the API's lifetimes; its scope keeps the
  API's own scopes and the provider's (``openid``, ``profile``…), never another
  API's;
- an API's scopes may be requested by a client that may use the API, in a
  request for that API.

Each process keeps the list of APIs ``IDP_CLIENT_CACHE_SECONDS``, as it keeps
client registrations.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from authlib.oauth2.rfc6749.errors import OAuth2Error
from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..models import Api, Client
from ..security import opaque
from ..services.apis import identifier_problem

CACHE = "idp.apis"


class InvalidTargetError(OAuth2Error):
    """RFC 8707 §2: the resource is invalid, unknown, or not for this client."""

    error = "invalid_target"


@dataclass
class Catalog:
    """The registered APIs, by identifier and by scope, as this process last read them."""

    loaded_at: float = -1.0
    by_identifier: dict[str, Api] = field(default_factory=dict)
    by_scope: dict[str, Api] = field(default_factory=dict)

    def refresh(self, ttl: float) -> None:
        if self.loaded_at >= 0 and time.monotonic() - self.loaded_at < ttl:
            return
        apis = list(db.session.scalars(select(Api)))
        for api in apis:
            db.session.expunge(api)  # read-only snapshots, shared by the process's threads
        self.by_identifier = {api.identifier: api for api in apis}
        self.by_scope = {scope: api for api in apis for scope in api.scope_names}
        self.loaded_at = time.monotonic()


def catalog() -> Catalog:
    cached: Catalog = current_app.extensions.setdefault(CACHE, Catalog())
    cached.refresh(float(current_app.config["IDP_CLIENT_CACHE_SECONDS"]))
    return cached


def forget() -> None:
    """Read the APIs again on next use (after a change in this process)."""
    if (cached := current_app.extensions.get(CACHE)) is not None:
        cached.loaded_at = -1.0


def may_use(client: Client, api: Api) -> bool:
    return not client.apis or api.identifier in client.apis


def usable_scopes(client: Client) -> set[str]:
    """Every API scope the client could be granted, in a request for its API."""
    return {scope for scope, api in catalog().by_scope.items() if may_use(client, api)}


def named(values: list[str]) -> list[str]:
    """The ``resource`` values of a request, checked to be URIs that can name an API."""
    for value in values:
        if problem := identifier_problem(value):
            raise InvalidTargetError(f"'resource' {problem}.")
    return list(dict.fromkeys(values))


def targets(client: Client, identifiers: list[str]) -> list[Api]:
    """The APIs a request is for: those named, or the client's default."""
    known = catalog().by_identifier
    if not identifiers:
        default = known.get(client.default_api or "")
        return [default] if default is not None and may_use(client, default) else []
    found = []
    for identifier in identifiers:
        api = known.get(identifier)
        if api is None or not may_use(client, api):
            raise InvalidTargetError("'resource' is not an API this application may use.")
        found.append(api)
    return found


def scope_for(scope: str, apis: list[Api]) -> str:
    """``scope`` without the scopes of APIs the request is not for."""
    owners = catalog().by_scope
    wanted = {api.identifier for api in apis}
    return " ".join(s for s in scope.split()
                    if s not in owners or owners[s].identifier in wanted)


def for_token(client: Client, granted: list[str] | None, requested: list[str]) -> Api | None:
    """The one API a token-endpoint request gets a token for.

    ``granted`` is what the authorization granted (None for a grant without one:
    client_credentials, password); ``requested`` the request's ``resource``.
    """
    if granted is None:
        apis = targets(client, named(requested))
    elif requested:
        if not set(named(requested)) <= set(granted):
            raise InvalidTargetError("'resource' asks for more than was granted.")
        apis = targets(client, requested)
    else:
        apis = targets(client, granted) if granted else []
    if len(apis) > 1:
        raise InvalidTargetError("Several APIs were granted: name the one this token is for "
                                 "with 'resource'.")
    return apis[0] if apis else None


@dataclass
class ApiCaller:
    """An API authenticated with its own credentials (RFC 7662 §2.1): it may
    introspect the tokens sent to it, and do nothing else."""

    api: Api
    token_endpoint_auth_method = "client_secret_basic"  # noqa: S105 - a method name
    disabled = False
    is_public = False

    @property
    def client_id(self) -> str:
        return self.api.client_id

    def get_client_id(self) -> str:
        return self.api.client_id

    def check_client_secret(self, client_secret: str) -> bool:
        return opaque.verify(client_secret, self.api.secret_digest)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "introspection" and method in ("client_secret_basic",
                                                          "client_secret_post")

    def check_grant_type(self, grant_type: str) -> bool:
        return False

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_response_type(self, response_type: str) -> bool:
        return False

    def audience_of(self, claims: dict[str, object]) -> bool:
        """Whether a token's ``aud`` names this API."""
        aud = claims.get("aud")
        return self.api.identifier in (aud if isinstance(aud, list) else [aud])


def api_caller(client_id: str) -> ApiCaller | None:
    """The API whose introspection credentials are ``client_id``."""
    if not isinstance(client_id, str) or len(client_id) > 128:
        return None
    api = db.session.scalar(select(Api).where(Api.client_id == client_id))
    return ApiCaller(api) if api is not None else None
