"""The OAuth playground: a relying party inside the provider, for learning the flows.

It is an ordinary client (``playground``), registered by ``flask idp init`` when
``IDP_PLAYGROUND`` is on, visible and removable like any other. Its secret is
derived from the server's secret key, so nothing stores it; its redirect URI is
the issuer's ``/playground/callback``.
"""

from __future__ import annotations

from flask import current_app

from ..extensions import db
from ..models import Client
from ..security import sealing
from ..services import audit, clients

CLIENT_ID = "playground"
GRANTS = ["authorization_code", "refresh_token", "client_credentials", "password",
          "client_delegate", "urn:ietf:params:oauth:grant-type:token-exchange"]
SCOPE = ("openid profile email offline_access org public_metadata private_metadata "
         "group_names group_ids roles")


def enabled() -> bool:
    return bool(current_app.config["IDP_PLAYGROUND"])


def client_secret() -> str:
    return sealing.keyed_digest("playground client secret", CLIENT_ID)


def issuer() -> str:
    return str(current_app.config["IDP_ISSUER"])


def redirect_uri() -> str:
    return issuer() + "/playground/callback"


def logged_out_uri() -> str:
    return issuer() + "/playground"


def ensure_client() -> None:
    """Register the playground's client, or point it at the current issuer."""
    existing = db.session.get(Client, CLIENT_ID)
    if existing is None:
        clients.create_client(
            "OAuth playground", client_id=CLIENT_ID, client_secret=client_secret(),
            redirect_uris=[redirect_uri()], post_logout_redirect_uris=[logged_out_uri()],
            grant_types=GRANTS, scope=SCOPE, origin=audit.CLI)
    elif existing.redirect_uris != [redirect_uri()]:
        clients.update_client(existing, {"redirect_uris": [redirect_uri()],
                                         "post_logout_redirect_uris": [logged_out_uri()]},
                              origin=audit.CLI)
