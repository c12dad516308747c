from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import now
from ..extensions import Model
from ..security import opaque
from .types import JSONType

SECRET_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
AUTH_METHODS = (*SECRET_AUTH_METHODS, "none")
GRANT_TYPES = (
    "authorization_code",
    "refresh_token",
    "password",
    "client_credentials",
    "client_delegate",
    "urn:ietf:params:oauth:grant-type:token-exchange",
)
ID_TOKEN_ALGS = ("RS256", "ES256", "Ed25519")
ACCESS_TOKEN_ALGS = ("Ed25519", "EdDSA", "RS256", "ES256")
PRIVX_PROFILE = "privx"
TOKEN_PROFILES = ("rfc9068", PRIVX_PROFILE)


class Client(Model):
    """A registered application, with Authlib's ``ClientMixin`` protocol."""

    __tablename__ = "clients"

    client_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    secret_digest: Mapped[str | None] = mapped_column(String(64))
    redirect_uris: Mapped[list[str]] = mapped_column(JSONType, default=list)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSONType, default=list)
    grant_types: Mapped[list[str]] = mapped_column(JSONType, default=list)
    scope: Mapped[str] = mapped_column(String(2000), default="")
    token_endpoint_auth_method: Mapped[str] = mapped_column(
        String(32), default="client_secret_basic"
    )
    skip_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    require_pkce: Mapped[bool] = mapped_column(Boolean, default=False)
    require_mfa: Mapped[bool] = mapped_column(Boolean, default=False)
    access_token_ttl: Mapped[int] = mapped_column(Integer, default=300)
    refresh_token_ttl: Mapped[int] = mapped_column(Integer, default=30 * 24 * 3600)
    max_groups_in_id_token: Mapped[int] = mapped_column(Integer, default=100)
    id_token_signed_response_alg: Mapped[str] = mapped_column(String(16), default="RS256")
    access_token_signed_alg: Mapped[str] = mapped_column(String(16), default="Ed25519")
    # The APIs it may ask tokens for (empty: any), and the one it gets without asking.
    apis: Mapped[list[str]] = mapped_column(JSONType, default=list)
    default_api: Mapped[str | None] = mapped_column(String(2000))
    token_profile: Mapped[str] = mapped_column(String(16), default="rfc9068")
    # Profile and email claims in the ID token too, for relying parties that read them
    # there instead of at UserInfo (OIDC Core §5.4 returns them from UserInfo).
    id_token_claims: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Shown on the login and consent pages (RFC 7591 §2).
    logo_uri: Mapped[str | None] = mapped_column(String(2048))
    client_uri: Mapped[str | None] = mapped_column(String(2048))  # the application's home page
    policy_uri: Mapped[str | None] = mapped_column(String(2048))
    tos_uri: Mapped[str | None] = mapped_column(String(2048))
    org_id: Mapped[str | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[int] = mapped_column(Integer, default=now)
    updated_at: Mapped[int] = mapped_column(Integer, default=now, onupdate=now)
    version: Mapped[int] = mapped_column(Integer, default=1)  # each administrative edit

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"  # noqa: S105 - a method name

    @property
    def client_metadata(self) -> dict:
        """RFC 7591 metadata, as Authlib's endpoints read it."""
        return {"post_logout_redirect_uris": self.post_logout_redirect_uris,
                "token_endpoint_auth_method": self.token_endpoint_auth_method}

    @property
    def scopes(self) -> list[str]:
        return self.scope.split()

    # Authlib ClientMixin -------------------------------------------------

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # OIDC and RFC 9700 want the redirect URI named in every request; a
        # default is only safe when there is exactly one to choose from.
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """The part of the requested scope the client may have; None if no part.

        Scopes the client may not have are left out, as OIDC Core §5.4 asks
        ("SHOULD be ignored") and RFC 6749 §3.3 allows; the token response's
        ``scope`` says what was granted. An omitted scope means the client's
        registered scope (RFC 6749 §3.3).
        """
        if not scope:
            return self.scope
        granted = [s for s in dict.fromkeys(scope.split()) if self.allows_scope(s)]
        return " ".join(granted) if granted else None

    def allows_scope(self, scope: str) -> bool:
        if scope in self.scopes:
            return True
        from ..oauth.resources import usable_scopes  # an API's scopes, for its requests

        if scope in usable_scopes(self):
            return True
        # "grpn://*" registers every group-name selector, likewise "grpid://*".
        prefix = scope.split("://", 1)[0]
        return "://" in scope and f"{prefix}://*" in self.scopes

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        from ..security.redirects import redirect_uri_matches

        return any(redirect_uri_matches(redirect_uri, r, native=self.is_public)
                   for r in self.redirect_uris)

    def check_client_secret(self, client_secret: str) -> bool:
        return opaque.verify(client_secret, self.secret_digest)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        # The method it was registered with, and no other (RFC 7591 §2).
        return method == self.token_endpoint_auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types
