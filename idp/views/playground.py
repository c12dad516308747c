"""``/playground``: run a flow against this provider, step by step, and see every
request, answer and token.

Rules:
- only when ``IDP_PLAYGROUND`` is on (else 404), and then for anyone; its
  actions are POSTed forms with CSRF, rate-limited per address;
- the flow's parameters are in the page's URL (a link to share), never a
  secret or a token: those stay in the run, on the server (``playground.runs``);
- the redirect URI takes the code from the query, a ``form_post``, or (with a
  little script) the fragment; it is CSRF-exempt, like any client's, and
  checks ``state`` instead;
- everything the provider answers is shown escaped, as text.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_number
from flask_babel import gettext as _

from .. import playground
from ..extensions import csrf, limiter
from ..playground import flows, runs
from ..playground.flows import FLOWS, SHAREABLE_NOT
from ..playground.inspect import explain_error
from ._request import see_other

bp = Blueprint("playground", __name__, url_prefix="/playground")
LIMIT = "60/minute"
MAX_PARAM = 2000
MAX_TOKEN = 16384


@bp.before_request
def _only_when_on() -> None:
    if not playground.enabled():
        abort(404)


bp.after_request(runs.set_cookie)


def _params(source: Any, flow: str) -> dict[str, str]:
    return {name: str(source.get(name, ""))[:MAX_PARAM] for name in FLOWS.get(flow, ())
            if source.get(name)}


def _here(flow: str, params: dict[str, str], *, external: bool = False) -> str:
    """This page with the flow's parameters: a link to share (never a secret)."""
    values: dict[str, Any] = {k: v for k, v in params.items() if k not in SHAREABLE_NOT}
    return url_for("playground.index", flow=flow, _external=external, **values)


def _page(run: runs.Run | None, *, flow: str, params: dict[str, str], status: int = 200,
          problem: str | None = None, pasted: str | None = None) -> ResponseReturnValue:
    reveal = request.args.get("reveal") == "1"
    try:
        tokens = [flows.decoded(label, token) for label, token in (run.tokens if run else {})
                  .items() if label != "previous_refresh_token"]
        shown = [flows.decoded("pasted token", pasted)] if pasted else []
    except flows.Unreachable:
        tokens, shown = [], []
        problem = problem or _("The provider's discovery document could not be fetched.")
    return render_template(
        "playground/index.html", run=run, flow=flow, flows=FLOWS,
        params=params or dict(flows.DEFAULTS[flow]), reveal=reveal,
        tokens=tokens, pasted=shown, problem=problem, explain=explain_error,
        share=_here(flow, params, external=True),
        client_id=playground.CLIENT_ID, redirect_uri=playground.redirect_uri(),
    ), status


@bp.get("")
def index() -> ResponseReturnValue:
    flow = request.args.get("flow", "code")
    if flow not in FLOWS:
        flow = "code"
    return _page(runs.current(), flow=flow, params=_params(request.args, flow))


@bp.post("/run")
@limiter.limit(LIMIT)
def run_flow() -> ResponseReturnValue:
    """Start a flow with the parameters as typed."""
    flow = request.form.get("flow", "")
    if flow not in FLOWS:
        abort(400)
    params = _params(request.form, flow)
    run = runs.start() if flow == "code" else runs.current_or_new()
    run.flow, run.params = flow, params
    try:
        if flow == "code":
            run.add(flows.authorization_request(run))
        elif flow == "client_credentials":
            flows.client_credentials(run)
        else:
            flows.password(run)
    except flows.Unreachable:
        return _page(run, flow=flow, params=params, status=502,
                     problem=_("The provider's discovery document could not be fetched."))
    runs.save(run)
    return see_other(_here(flow, params) + "#steps")


@bp.route("/callback", methods=["GET", "POST"])
@csrf.exempt
@limiter.limit(LIMIT)
def callback() -> ResponseReturnValue:
    """The redirect URI: the query, a form_post, or (from the script) the fragment."""
    values = request.form if request.method == "POST" else request.args
    params = {k: v[:MAX_PARAM] for k, v in values.items()}
    run = runs.current()
    if not params:  # response_mode=fragment: the script posts it back here
        return render_template("playground/fragment.html")
    if run is None:
        return _page(None, flow="code", params={}, status=400, problem=_(
            "This answer is for a playground run this browser no longer has (it expired, "
            "or was started elsewhere). Start the flow again."))
    answer = flows.authorization_response(run, params, request.method)
    runs.save(run)
    if answer.problem:
        return _page(run, flow="code", params=run.params, status=400, problem=answer.problem)
    return see_other(_here("code", run.params) + "#steps")


ACTIONS = ("redeem", "refresh", "reuse_refresh", "userinfo_get", "userinfo_post",
           "introspect", "revoke", "exchange", "logout", "forget")


@bp.post("/step")
@limiter.limit(LIMIT)
def step() -> ResponseReturnValue:
    """The next step of the current run: the button pressed says which."""
    action = request.form.get("action", "")
    if action not in ACTIONS:
        abort(400)
    if action == "forget":
        runs.forget()
        return see_other(url_for("playground.index"))
    run = runs.current()
    if run is None:
        return _page(None, flow="code", params={}, status=400,
                     problem=_("Nothing to go on with: start a flow first."))
    form = {k: v[:MAX_PARAM] for k, v in request.form.items()}
    label = form.get("token", "access_token")
    if label not in run.tokens:
        label = "access_token"
    try:
        if action == "logout":
            url, fields = flows.logout_form(run)
            runs.save(run)
            return render_template("playground/logout.html", url=url, fields=fields)
        {
            "redeem": lambda: flows.redeem(run),
            "refresh": lambda: flows.refresh(run, form),
            "reuse_refresh": lambda: flows.refresh(run, form, reuse=True),
            "userinfo_get": lambda: flows.userinfo(run, "GET"),
            "userinfo_post": lambda: flows.userinfo(run, "POST"),
            "introspect": lambda: flows.introspect(run, label),
            "revoke": lambda: flows.revoke(run, label),
            "exchange": lambda: flows.exchange_token(run, form),
        }[action]()
    except flows.Unreachable:
        return _page(run, flow=run.flow or "code", params=run.params, status=502,
                     problem=_("The provider's discovery document could not be fetched."))
    runs.save(run)
    return see_other(_here(run.flow or "code", run.params) + "#steps")


@bp.post("/decode")
@limiter.limit(LIMIT)
def decode() -> ResponseReturnValue:
    """Any JWT, pasted (posted, so it is never in a URL): decoded and checked."""
    token = request.form.get("jwt", "").strip().removeprefix("Bearer ").strip()
    run = runs.current()
    flow = run.flow if run and run.flow in FLOWS else "code"
    if len(token) > MAX_TOKEN:
        return _page(run, flow=flow, params=run.params if run else {}, status=400,
                     problem=_("That is %(length)s characters: longer than any token "
                               "this provider issues (at most %(most)s are read).",
                               length=format_number(len(token)),
                               most=format_number(MAX_TOKEN)))
    return _page(run, flow=flow, params=run.params if run else {}, pasted=token)
