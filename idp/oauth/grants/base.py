"""What every grant of ours shares: how a token is generated and saved."""

from __future__ import annotations

from ...models import Client, User
from .. import tokens


class IssuesTokens:
    """Route Authlib's ``generate_token`` through ``oauth.tokens.issue``.

    A grant sets ``request.token_context`` before Authlib asks for a token;
    the row is put on ``request.issued_token`` for the server's ``save_token``.
    """

    request: object
    GRANT_TYPE: str | None

    def generate_token(
        self,
        user: User | None = None,
        scope: str | None = None,
        grant_type: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ):
        request = self.request
        client: Client = request.client  # type: ignore[attr-defined]
        form = request.form  # type: ignore[attr-defined]
        refresh_ttl = None
        if include_refresh_token and client.check_grant_type("refresh_token"):
            refresh_ttl = tokens.shorter(
                form.get("refreshTokenValiditySeconds"), client.refresh_token_ttl
            )
        token, row = tokens.issue(
            client=client,
            grant_type=grant_type or self.GRANT_TYPE or "",
            scope=scope or "",
            user=user,
            context=getattr(request, "token_context", None) or tokens.Context(),
            access_ttl=tokens.shorter(
                form.get("accessTokenValiditySeconds"), client.access_token_ttl
            ),
            refresh_ttl=refresh_ttl,
        )
        request.issued_token = row  # type: ignore[attr-defined]
        return token
