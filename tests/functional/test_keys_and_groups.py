"""Key rotation, and Webex group claims in ID tokens and UserInfo."""

from __future__ import annotations

import time

import pytest

from idp.extensions import db
from idp.models import SigningKey
from idp.oauth import keys
from idp.services import orgs
from tests.helpers import PASSWORD, REDIRECT_URI, get_code, verify_jwt

# -- key rotation ---------------------------------------------------------------------


def rotate(app, alg):
    with app.app_context():
        kid = keys.rotate(alg).kid
        db.session.commit()
        return kid


def test_rotation_adds_a_new_current_key_with_a_distinct_kid(app, client, code_tokens):
    before = code_tokens()
    new_kid = rotate(app, "Ed25519")
    new_rs = rotate(app, "RS256")
    jwks = client.get("/.well-known/jwks.json").get_json()
    kids = [k["kid"] for k in jwks["keys"]]
    assert len(kids) == len(set(kids)) == 5  # three current, two retired but published
    assert {new_kid, new_rs} <= set(kids)

    after = code_tokens()
    header, _ = verify_jwt(after["access_token"], jwks, ["Ed25519"])
    assert header["kid"] == new_kid
    header, _ = verify_jwt(after["id_token"], jwks, ["RS256"])
    assert header["kid"] == new_rs
    # Tokens signed before the rotation still verify against the published set...
    old_header, _ = verify_jwt(before["access_token"], jwks, ["Ed25519"])
    assert old_header["kid"] != new_kid
    verify_jwt(before["id_token"], jwks, ["RS256"])
    # ...and are still accepted by the server itself.
    auth = {"Authorization": f"Bearer {before['access_token']}"}
    assert client.get("/oauth/userinfo", headers=auth).status_code == 200


def test_retired_key_leaves_the_jwks_once_its_tokens_have_expired(app, client):
    old_kid = rotate(app, "ES256")
    assert old_kid in {k["kid"] for k in client.get("/.well-known/jwks.json").get_json()["keys"]}
    with app.app_context():
        retired = db.session.query(SigningKey).filter(SigningKey.alg == "ES256",
                                                      SigningKey.retired_at.isnot(None)).one()
        retired.retired_at = int(time.time()) - keys.publication_window() - 1
        db.session.commit()
        keys.store().invalidate()
    published = {k["kid"] for k in client.get("/.well-known/jwks.json").get_json()["keys"]}
    assert retired.kid not in published
    assert old_kid in published


def test_publication_window_covers_the_longest_client_lifetime(app, make_client):
    make_client("long", access_token_ttl=7200)
    with app.app_context():
        assert keys.publication_window() == 7200


@pytest.mark.parametrize("alg", ["Ed25519", "EdDSA"])
@pytest.mark.parametrize("typ", ["at+jwt", "JWT"])
def test_ed25519_tokens_are_byte_for_byte_what_joserfc_signs(app, alg, typ):
    """Access tokens are serialized without joserfc's per-token checks: same bytes."""
    import warnings

    from joserfc import jwt
    from joserfc.errors import SecurityWarning

    claims = {"iss": "https://idp.example", "sub": "Zoë 🦊", "aud": "c", "exp": 2, "iat": 1,
              "scope": "a b", "act": {"sub": "svc", "act": {"sub": "näive"}}}
    with app.app_context():
        ours = keys.sign(dict(claims), alg, typ=typ)
        key = keys.signing_key(alg)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SecurityWarning)  # joserfc frowns on "EdDSA"
            theirs = jwt.encode({"alg": alg, "kid": key.kid}, dict(claims), key,
                                algorithms=[alg], default_type=typ)
            token = jwt.decode(ours, keys.verification_keys(), algorithms=[alg])
    assert ours == theirs
    assert token.header == {"typ": typ, "alg": alg, "kid": key.kid}
    assert token.claims == claims


# -- groups ---------------------------------------------------------------------------


@pytest.fixture
def grouped(app, alice, make_org, make_client):
    """alice in acme with five groups; a client allowed every group scope, capped at 2."""
    acme = make_org("acme", members=[alice])
    with app.app_context():
        org = orgs.find_org("acme")
        user = db.session.merge(alice)
        made = []
        for name in ("alpha", "bravo", "charlie", "delta", "echo"):
            group = orgs.create_group(org, name)
            db.session.flush()
            orgs.add_group_member(group, user)
            made.append(group)
        db.session.commit()
        ids = {g.name: g.id for g in made}
    client = make_client("grp", skip_consent=True, max_groups_in_id_token=2,
                         scope="openid profile group_names group_ids grpn://* grpid://*")
    return acme, ids, client


def id_claims(oauth, endpoint, client, scope, **extra):
    assert oauth.login("alice", PASSWORD).status_code == 303
    code = get_code(oauth, client_id="grp", scope=scope)
    body = endpoint.ok({"grant_type": "authorization_code", "code": code,
                        "redirect_uri": REDIRECT_URI, **extra}, "grp", client.client_secret)
    return body, body["id_claims"]


def test_group_names_are_capped_by_the_client(oauth, endpoint, grouped):
    _, _, client = grouped
    _, claims = id_claims(oauth, endpoint, client, "openid group_names")
    assert claims["groups"] == ["alpha", "bravo"]
    assert claims["_claim_names"] == {"groups": "userinfo"}
    assert claims["_claim_sources"]["userinfo"]["endpoint"].endswith("/oauth/userinfo")


@pytest.mark.parametrize(("requested", "expected"), [("1", 1), ("2", 2), ("50", 2), ("0", 2),
                                                     ("-3", 2), ("many", 2)])
def test_max_groups_in_id_token_only_lowers_the_cap(oauth, endpoint, grouped, requested,
                                                    expected):
    _, _, client = grouped
    _, claims = id_claims(oauth, endpoint, client, "openid group_names",
                          maxGroupsInIdToken=requested)
    assert len(claims["groups"]) == expected


def test_grpn_and_grpid_select_single_groups(oauth, endpoint, grouped):
    _, ids, client = grouped
    _, claims = id_claims(oauth, endpoint, client,
                          f"openid grpn://charlie grpid://{ids['delta']} grpn://nonexistent")
    assert claims["groups"] == ["charlie"]
    assert claims["group_ids"] == [ids["delta"]]
    assert "_claim_names" not in claims


def test_no_group_claims_without_group_scopes(oauth, endpoint, grouped):
    _, _, client = grouped
    _, claims = id_claims(oauth, endpoint, client, "openid profile")
    assert "groups" not in claims
    assert "group_ids" not in claims


def test_userinfo_has_the_whole_list(oauth, endpoint, grouped, client):
    _, ids, grp = grouped
    body, _ = id_claims(oauth, endpoint, grp, "openid group_names group_ids")
    info = client.get("/oauth/userinfo",
                      headers={"Authorization": f"Bearer {body['access_token']}"}).get_json()
    assert info["groups"] == ["alpha", "bravo", "charlie", "delta", "echo"]
    assert sorted(info["group_ids"]) == sorted(ids.values())
