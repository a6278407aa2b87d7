"""The few HTML pages the provider serves to people: the login page, the device page and the
dashboard.

Plain server-rendered HTML with no assets, so they work in any browser and in headless ones,
and every page says plainly that this is a mock provider. The login and device pages have no
script, and their policy allows none (CSP Level 3): text a request put on the page can never
run. The dashboard's one script runs by a nonce made for each answer (CSP Level 3 §7.2).
"""

from __future__ import annotations

import secrets
from html import escape
from itertools import islice
from typing import TYPE_CHECKING

from werkzeug.wrappers import Response

if TYPE_CHECKING:
    from ..core.directory import Users
    from ..core.issuer import Issuer

__all__ = ["dashboard_page", "device_page", "login_page"]

_STYLE = (
    "body{font:16px system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}"
    ".banner{background:#fff3cd;border:1px solid #e0c36c;padding:.5rem 1rem}"
    "label{display:block;margin:.4rem 0}textarea{width:100%;height:5rem}"
    ".error{color:#b00020}table{border-collapse:collapse}td,th{padding:.2rem .5rem;"
    "text-align:left;border-bottom:1px solid #ddd}td form{display:inline}"
)
_HEADERS = {"Cache-Control": "no-store", "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff"}
#: No script and nothing loaded (inline style aside), never framed (clickjacking).
_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
           "frame-ancestors 'none'")


def _page(title: str, body: str, status: int = 200, *, policy: str = _POLICY) -> Response:
    html = (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>"
        f'<meta name=viewport content="width=device-width"><style>{_STYLE}</style></head><body>'
        '<p class=banner>mockidp is a mock identity provider for tests. It is not a real '
        "identity provider: never sign in here with real credentials.</p>"
        f"<h1>{escape(title)}</h1>{body}</body></html>"
    )
    return Response(html, status=status, content_type="text/html; charset=utf-8",
                    headers={**_HEADERS, "Content-Security-Policy": policy})


#: The login page lists this many users (and the one login_hint names); others are typed in.
LISTED_USERS = 100


def login_page(users: Users, ticket: str, hint: str | None = None, *,
               error: str = "", status: int = 200) -> Response:
    """Pick a user (or type a new one), optionally add claims, approve or deny."""
    choices = []
    default = users.default.sub
    listed = list(islice(users, LISTED_USERS))
    hinted = users.find(hint) if hint else None
    if hinted is not None and hinted not in listed:
        listed.append(hinted)
    for index, user in enumerate(listed):
        checked = " checked" if user.sub == (hint or default) else ""
        label = f"{user.claims.get('name', user.sub)} <{user.claims.get('email', '')}>"
        choices.append(
            f'<label><input type=radio name=sub id="user-{index}" value="{escape(user.sub)}"'
            f"{checked}> {escape(label)} <small>({escape(user.sub)})</small></label>"
        )
    typed = hint if hint and users.find(hint) is None else ""
    body = (
        (f'<p class=error id=error>{escape(error)}</p>' if error else "")
        + f'<form method=post><input type=hidden name=login_request value="{escape(ticket)}">'
        + "<fieldset><legend>Sign in as</legend>" + "".join(choices) + "</fieldset>"
        + '<label>or a new user (sub) <input name=new_sub id=new-sub '
        + f'value="{escape(typed)}"></label>'
        + '<label>Extra claims for this sign-in (JSON object) <textarea name=claims id=claims>'
        + "</textarea></label>"
        + '<button name=action value=approve id=approve>Sign in</button> '
        + '<button name=action value=deny id=deny>Deny</button></form>'
    )
    return _page("Sign in to the mock provider", body, status)


def device_page(code: str, message: str) -> Response:
    """Where a user enters a device's code (RFC 8628 §3.3)."""
    body = (
        f'<p id=message>{escape(message)}</p><form method=post>'
        f'<label>Code <input name=user_code id=user-code value="{escape(code)}"></label>'
        '<label>User <input name=login_hint placeholder="default user"></label>'
        '<button name=action value=approve id=approve>Approve</button> '
        '<button name=action value=deny id=deny>Deny</button></form>'
    )
    return _page("Connect a device", body)



_DASHBOARD_SCRIPT = """
async function refresh() {
  const response = await fetch(document.body.dataset.base + "/requests");
  if (!response.ok) return;
  const rows = (await response.json()).requests.slice(-50).reverse().map(r =>
    `<tr><td>${r.method}</td><td>${escapeHtml(r.path)}</td><td>${r.endpoint ?? ""}</td>` +
    `<td>${r.status ?? "dropped"}</td><td>${(r.duration * 1000).toFixed(1)} ms</td></tr>`);
  document.getElementById("log").innerHTML = rows.join("");
}
function escapeHtml(text) {
  return text.replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;",
    '"': "&quot;", "'": "&#39;"})[c]);
}
refresh(); setInterval(refresh, 1000);
"""


def dashboard_page(issuer: Issuer, base: str, decoded: str = "", token: str = "") -> Response:
    """The standalone server's dashboard: keys and their states with the key actions, the
    endpoint actions, the live request log, and a token decoder. The actions offered are the
    control surface's (:mod:`mockidp.drivers.surface`)."""
    from ..core.endpoints import ENDPOINTS
    from ..core.jwa import ALGORITHMS
    from ..core.keys import CORRUPTIONS
    from ..drivers.surface import ENDPOINT_ACTIONS, KEY_ACTIONS

    nonce = secrets.token_urlsafe(18)
    keys = issuer.keys
    rows = []
    for key in keys:
        state = keys.state(key.kid)
        corruption = keys.corruption(key.kid) or ""
        offered = [name for name, action in KEY_ACTIONS.items()
                   if action.kid and _applies(name, state, corruption, key.kty)]
        buttons = "".join(
            f'<form method=post action="{base}/ui/keys/{escape(key.kid)}/{name}">'
            + ("<select name=how>" + "".join(f"<option>{c}</option>" for c in CORRUPTIONS)
               + "</select>" if name == "corrupt" else "")
            + f'<button data-action="{name}">{name}</button></form>'
            for name in offered
        )
        rows.append(
            f'<tr data-kid="{escape(key.kid)}" data-state="{state}"><td><code>'
            f"{escape(key.kid)}</code></td><td>{key.alg}</td><td class=state>{state}</td>"
            f"<td>{escape(corruption)}</td><td class=actions>{buttons}</td></tr>"
        )
    algs = "".join(f"<option{' selected' if a == keys.default_alg else ''}>{a}"
                   f"</option>" for a in ALGORITHMS)
    endpoints = "".join(f"<option>{name}</option>" for name, e in ENDPOINTS.items()
                        if not e.internal)
    actions = "".join(f'<option title="{escape(a.summary)}">{name}</option>'
                      for name, a in ENDPOINT_ACTIONS.items())
    body = (
        f"<p>Issuer <code>{escape(issuer.issuer)}</code> · "
        f'<a href="{escape(issuer.discovery_url)}">discovery</a> · '
        f'<a href="{escape(issuer.jwks_uri)}">JWKS</a> · <a href="{base}/openapi.json">'
        "control API</a></p><h2>Keys</h2>"
        f'<form method=post action="{base}/ui/rotate"><select name=alg>' + algs + "</select>"
        "<button id=rotate>rotate</button></form>"
        f'<form method=post action="{base}/ui/keyring" id=keyring><select name=action>'
        + "".join(f'<option title="{escape(a.summary)}">{name}</option>'
                  for name, a in KEY_ACTIONS.items() if not a.kid)
        + f"</select> <select name=alg>{algs}</select> "
        '<label>kid <input name=kid placeholder="thumbprint"></label> '
        "<label><input type=checkbox name=staged> staged (next)</label> "
        "<button id=keyring-apply>apply</button></form>"
        "<table id=keys><tr><th>kid</th><th>alg</th><th>state</th><th>corruption</th>"
        "<th></th></tr>" + "".join(rows) + "</table>"
        f'<h2>Endpoint faults</h2><form method=post action="{base}/ui/endpoint" id=faults>'
        f"<select name=endpoint id=fault-endpoint>{endpoints}</select> "
        f"<select name=action id=fault-action>{actions}</select> "
        '<label>options (JSON) <input name=options id=fault-options value="{}"></label> '
        "<button id=apply-fault>apply</button></form>"
        f'<h2>Token decoder</h2><form method=post action="{base}/ui/decode">'
        f"<textarea name=token id=token>{escape(token)}</textarea>"
        "<button id=decode>decode</button></form>"
        + (f"<pre id=decoded>{escape(decoded)}</pre>" if decoded else "")
        + "<h2>Requests</h2><table><thead><tr><th>method</th><th>path</th><th>endpoint</th>"
        "<th>status</th><th>time</th></tr></thead><tbody id=log></tbody></table>"
        f'<script nonce="{nonce}">document.body.dataset.base = "{base}";'
        f"{_DASHBOARD_SCRIPT}</script>"
    )
    # Its own script (by nonce) and its fetches of the request log; the forms post here.
    return _page("mockidp dashboard", body, policy=(
        f"default-src 'none'; script-src 'nonce-{nonce}'; connect-src 'self'; "
        "style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'"))


def _applies(action: str, state: str, corruption: str, kty: str) -> bool:
    """Whether a key action makes sense for a key in ``state`` (the dashboard offers only
    those; the control API takes every one and says why one fails)."""
    if action == "publish":
        return state == "revoked"
    if state == "revoked":
        return action == "replace"
    if action == "activate":
        return state in ("next", "previous")
    if action in ("corrupt", "repair"):
        return kty != "oct" and (action == "repair") == bool(corruption)
    return action in ("revoke", "replace")
