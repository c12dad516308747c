"""Demo data for ``flask idp init --demo``: fixed, printed, for trying things out."""

from __future__ import annotations

from .extensions import db
from .models import Client
from .services import accounts, clients, orgs

USERS = {
    "alice": ("alice@example.com", "alice-demo-password", "Alice", "Anders"),
    "bob": ("bob@example.com", "bob-demo-password", "Bob", "Berg"),
}
WEB_SECRET = "demo-web-secret-change-me-0123456789abcdef"
SERVICE_SECRET = "demo-service-secret-change-me-0123456789ab"


def seed() -> None:
    """Create whatever demo data is missing; never touches existing rows."""
    acme = orgs.find_org("acme") or orgs.create_org("acme", "Acme Corporation")
    globex = orgs.find_org("globex") or orgs.create_org("globex", "Globex Industries")
    db.session.flush()
    for username, (email, password, given, family) in USERS.items():
        if accounts.find_user(username) is None:
            accounts.create_user(username, email, password, given_name=given,
                                 family_name=family, email_verified=True)
    db.session.flush()
    alice, bob = accounts.require_user("alice"), accounts.require_user("bob")
    orgs.add_member(acme, alice, "admin")
    orgs.add_member(globex, alice, "member")
    orgs.add_member(acme, bob, "member")
    db.session.flush()
    engineering = orgs.find_group(acme, "engineering") or orgs.create_group(acme, "engineering")
    db.session.flush()
    for user in (alice, bob):
        orgs.add_group_member(engineering, user)

    if db.session.get(Client, "demo-web") is None:
        clients.create_client(
            "Demo Web App", client_id="demo-web", client_secret=WEB_SECRET,
            redirect_uris=["http://localhost:8080/callback", "http://127.0.0.1:8080/callback"],
            post_logout_redirect_uris=["http://localhost:8080/"],
            grant_types=["authorization_code", "refresh_token"],
            scope="openid profile email offline_access org public_metadata group_names",
        )
    if db.session.get(Client, "demo-spa") is None:
        clients.create_client(
            "Demo Single-Page App", client_id="demo-spa", auth_method="none",
            redirect_uris=["http://localhost:3000/callback", "http://127.0.0.1:3000/callback"],
            grant_types=["authorization_code", "refresh_token"],
            scope="openid profile email offline_access org",
        )
    if db.session.get(Client, "demo-service") is None:
        clients.create_client(
            "Demo Service", client_id="demo-service", client_secret=SERVICE_SECRET,
            grant_types=["client_credentials"], scope="api:read api:write", org="acme",
        )


def describe(issuer: str) -> str:
    lines = [
        "",
        "Demo data (change these before exposing the server):",
        "  users (sign in with username or email):",
    ]
    for username, (email, password, *_rest) in USERS.items():
        lines.append(f"    {username:<6} {email:<20} password: {password}")
    lines += [
        "    alice belongs to acme (admin) and globex; bob to acme.",
        "  clients:",
        f"    demo-web      confidential  secret: {WEB_SECRET}",
        "                  redirect: http://localhost:8080/callback",
        "    demo-spa      public, PKCE  redirect: http://localhost:3000/callback",
        f"    demo-service  client_credentials  secret: {SERVICE_SECRET}",
        "",
        f"  try: {issuer}/oauth/authorize?response_type=code&client_id=demo-web"
        "&redirect_uri=http://localhost:8080/callback&scope=openid%20profile%20email&state=demo",
        f"  discovery: {issuer}/.well-known/openid-configuration",
        "",
    ]
    return "\n".join(lines)
