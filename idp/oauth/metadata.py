"""Discovery documents (RFC 8414, OIDC Discovery 1.0).

Rule: advertise exactly what is wired up; the grant list is the one the
server registers (``server.TOKEN_GRANTS``), so it cannot claim a grant that is
not there.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, url_for

from ..i18n import LANGUAGES
from .claims import SCOPE_CLAIMS, SCOPES_SUPPORTED
from .id_token import ID_TOKEN_ALGS
from .keys import SIGNING_ALGS
from .response_modes import RESPONSE_MODES
from .server import TOKEN_GRANTS


def _url(endpoint: str) -> str:
    return current_app.config["IDP_ISSUER"] + url_for(endpoint)


def document() -> dict[str, Any]:
    grant_types = [grant.GRANT_TYPE for grant in TOKEN_GRANTS]
    claims = sorted({"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr",
                     "sid", "at_hash", "azp", "groups", "group_ids"}
                    | {c for names in SCOPE_CLAIMS.values() for c in names})
    return {
        "issuer": current_app.config["IDP_ISSUER"],
        "authorization_endpoint": _url("oauth.authorize"),
        "token_endpoint": _url("oauth.token"),
        "userinfo_endpoint": _url("oauth.userinfo"),
        "jwks_uri": _url("well_known.jwks"),
        "introspection_endpoint": _url("oauth.introspect"),
        "revocation_endpoint": _url("oauth.revoke"),
        "end_session_endpoint": _url("end_session.end_session"),
        "scopes_supported": list(SCOPES_SUPPORTED),
        "response_types_supported": ["code"],
        "response_modes_supported": list(RESPONSE_MODES),
        "grant_types_supported": grant_types,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ID_TOKEN_ALGS,
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "introspection_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
        ],
        "revocation_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": claims,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "ui_locales_supported": list(LANGUAGES),  # the pages' languages (ui_locales)
        "acr_values_supported": ["1", "2"],  # one factor, two (services.factors)
        "access_token_signing_alg_values_supported": sorted(SIGNING_ALGS),
        "resource_indicators_supported": True,  # RFC 8707 ``resource``, repeatable
        "authorization_response_iss_parameter_supported": True,
        "claims_parameter_supported": True,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
    }
