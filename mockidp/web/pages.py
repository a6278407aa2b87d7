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
from urllib.parse import quote

from werkzeug.wrappers import Response

if TYPE_CHECKING:
    from ..core.directory import Users
    from ..core.issuer import Issuer

__all__ = ["FAVICON", "dashboard_page", "device_page", "login_page", "signin_page"]

#: The provider's own icon (a key on a badge, 16 px of SVG): browsers ask every site for
#: /favicon.ico, and a 404 for it in every request log is noise.
FAVICON = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    b'<rect width="16" height="16" rx="3" fill="#2e5e8c"/>'
    b'<circle cx="5.5" cy="8" r="2.6" fill="none" stroke="#fff" stroke-width="1.6"/>'
    b'<path d="M8 8h6M12 8v2.5M10 8v2" stroke="#fff" stroke-width="1.6"/></svg>'
)

_STYLE = (
    "body{font:16px system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}"
    ".banner{background:#fff3cd;border:1px solid #e0c36c;padding:.5rem 1rem}"
    "label{display:block;margin:.4rem 0}textarea{width:100%;height:5rem}"
    ".error{color:#b00020}table{border-collapse:collapse}td,th{padding:.2rem .5rem;"
    "text-align:left;border-bottom:1px solid #ddd}td form{display:inline}"
    "body.wide{max-width:80rem}#keys{width:100%}#keys code{word-break:break-all}"
    "#keys td.actions{min-width:12rem}dl.asking{display:grid;grid-template-columns:auto 1fr;"
    "gap:.2rem 1rem}dl.asking dd{margin:0;word-break:break-all}"
    "#timeline svg{width:100%;display:block;font:11px system-ui,sans-serif}"
    ".legend span{display:inline-block;margin-right:1rem;font-size:.85rem}"
    ".legend i{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;"
    "vertical-align:middle}#log td{font-size:.9rem}"
    ".filters label,.legend label{display:inline-block;margin-right:1rem}"
)
_HEADERS = {"Cache-Control": "no-store", "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff"}
#: No script and nothing loaded (inline style aside), never framed (clickjacking).
_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
           "frame-ancestors 'none'")


def _page(title: str, body: str, status: int = 200, *, policy: str = _POLICY,
          wide: bool = False) -> Response:
    html = (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>"
        f'<meta name=viewport content="width=device-width"><style>{_STYLE}</style></head>'
        f"<body{' class=wide' if wide else ''}>"
        '<p class=banner>mockidp is a mock identity provider for tests. It is not a real '
        "identity provider: never sign in here with real credentials.</p>"
        f"<h1>{escape(title)}</h1>{body}</body></html>"
    )
    return Response(html, status=status, content_type="text/html; charset=utf-8",
                    headers={**_HEADERS, "Content-Security-Policy": policy})


#: The dashboard lists this many clients (registration may add up to a thousand).
LISTED_CLIENTS = 100
#: The login page lists this many users (and the one login_hint names); others are typed in.
LISTED_USERS = 100


def login_page(users: Users, ticket: str, hint: str | None = None, *,
               error: str = "", status: int = 200,
               asking: tuple[str, str, str] | None = None, claims: str = "") -> Response:
    """Pick a user (or type a new one), optionally add claims, approve or deny.

    ``asking`` is the client, redirect URI and scope being authorized, shown so that a person
    testing several apps knows which one sent them; ``claims`` is the claim editor's text, kept
    after an error so that nothing typed is lost."""
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
        + (_asking(*asking) if asking else "")
        + f'<form method=post><input type=hidden name=login_request value="{escape(ticket)}">'
        + "<fieldset><legend>Sign in as</legend>" + "".join(choices) + "</fieldset>"
        + '<label>or a new user (sub) <input name=new_sub id=new-sub '
        + f'value="{escape(typed)}"></label>'
        + '<label>Authentication achieved: acr <input name=acr id=acr> amr (space-separated) '
        + '<input name=amr id=amr></label>'
        + '<label>Extra claims for this sign-in (JSON object) <textarea name=claims id=claims>'
        + f"{escape(claims)}</textarea></label>"
        + '<button name=action value=approve id=approve>Sign in</button> '
        + '<button name=action value=deny id=deny>Deny</button></form>'
    )
    return _page("Sign in to the mock provider", body, status)


def _asking(client_id: str, redirect_uri: str, scope: str) -> str:
    return (
        f"<dl class=asking id=asking><dt>Client</dt><dd id=asking-client>{escape(client_id)}"
        f"</dd><dt>Redirect URI</dt><dd id=asking-redirect>{escape(redirect_uri)}</dd>"
        f"<dt>Scopes</dt><dd id=asking-scope>{escape(scope) or '(none)'}</dd></dl>"
    )


def signin_page(base: str, *, error: str = "", status: int = 200) -> Response:
    """What a browser gets from the dashboard when the provider has a control token and the
    browser has not given it: a form that posts it (``base`` is escaped already) and says
    where the token comes from. A 401 says how to authenticate (RFC 9110 §11.6.1)."""
    body = (
        (f'<p class=error id=error>{escape(error)}</p>' if error else "")
        + "<p>This provider has a control token: <code>mockidp serve</code> prints it at "
        "start-up (<code>idp.control_token</code> in Python). Enter it to open the dashboard; "
        "this browser keeps it in a cookie no script can read, sent only to the dashboard. "
        "Scripts and <code>RemoteIdP</code> send it as <code>Authorization: Bearer</code>.</p>"
        f'<form method=post action="{base}/ui/signin" id=signin>'
        '<label>Control token <input type=password name=control_token id=control-token '
        "autocomplete=off required autofocus></label>"
        "<button id=signin-submit>Open the dashboard</button></form>"
    )
    response = _page("Sign in to the mockidp dashboard", body, status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="mockidp-control"'
    return response


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



_DASHBOARD_SCRIPT = r"""
const base = document.body.dataset.base;
const STATE_COLOURS = {next: "#9ecbff", active: "#2e7d32", previous: "#f0ad4e",
                       revoked: "#bbbbbb"};
const SHAPES = {jwks: "circle", certs: "circle", discovery: "square",
                "oauth-metadata": "square", token: "diamond"};
function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;",
    '"': "&quot;", "'": "&#39;"})[c]);
}
function clockTime(t) { return new Date(t * 1000).toISOString().slice(11, 19); }
function statusColour(status) {
  if (status === null) return "#000000";
  if (status >= 500) return "#c62828";
  if (status >= 400) return "#ef6c00";
  if (status >= 300) return "#1565c0";
  return "#2e7d32";
}
function statusClass(status) {
  return status === null ? "dropped" : `${Math.floor(status / 100)}xx`;
}
function short(text, n) { return text.length > n ? text.slice(0, n - 1) + "\u2026" : text; }

// Each key's states as segments [from, to, state, corruption] up to `now`.
function keySegments(changes, now) {
  const keys = new Map();
  for (const c of changes) {
    if (!keys.has(c.kid)) keys.set(c.kid, {alg: c.alg, segments: []});
    const key = keys.get(c.kid), last = key.segments[key.segments.length - 1];
    if (last) last[1] = c.time;
    key.gone = c.state === "gone";
    if (!key.gone) key.segments.push([c.time, now, c.state, c.corruption]);
    if (c.alg) key.alg = c.alg;
  }
  return keys;
}
function marker(shape, x, y, colour, tip) {
  const title = `<title>${escapeHtml(tip)}</title>`;
  if (shape === "square")
    return `<rect x="${x - 4}" y="${y - 4}" width="8" height="8" fill="${colour}">${title}</rect>`;
  if (shape === "diamond")
    return `<path d="M${x} ${y - 5}l5 5l-5 5l-5 -5z" fill="${colour}">${title}</path>`;
  if (shape === "triangle")
    return `<path d="M${x} ${y - 5}l5 9h-10z" fill="${colour}">${title}</path>`;
  return `<circle cx="${x}" cy="${y}" r="4" fill="${colour}">${title}</circle>`;
}
function drawTimeline(data) {
  const box = document.getElementById("timeline");
  const windowed = Number(document.getElementById("window").value);
  const played = (data.scenarios || []).map((run, i) => [run.source ||
    `scenario ${i + 1}`, run.steps.filter(s => s.state !== "pending" && s.time <= data.now)]);
  const now = data.now, from = windowed ? now - windowed :
    Math.min(now - 10, ...data.keys.map(c => c.time), ...data.requests.map(r => r.time),
             ...played.flatMap(([, steps]) => steps.map(s => s.time)));
  const width = Math.max(box.clientWidth, 400), left = 200, right = 10, row = 22;
  const x = t => left + (Math.max(t, from) - from) / Math.max(now - from, 1e-9)
    * (width - left - right);
  const keys = keySegments(data.keys, now), consumers = new Map();
  for (const r of data.requests) {
    if (r.time < from) continue;
    if (!consumers.has(r.consumer)) consumers.set(r.consumer, []);
    consumers.get(r.consumer).push(r);
  }
  const parts = [];
  let y = 20;
  const activations = data.keys.filter(c => c.state === "active" && c.time >= from);
  for (const [kid, key] of keys) {
    const live = key.segments.some(s => s[1] >= from);
    if (!live) continue;
    parts.push(`<g class=key-row data-kid="${escapeHtml(kid)}"><text x="4" y="${y + 4}">` +
      `${escapeHtml(short(kid, 14))} ${escapeHtml(key.alg)}<title>${escapeHtml(kid)}</title>` +
      "</text>");
    for (const [start, end, state, corruption] of key.segments) {
      if (end < from) continue;
      const tip = `${kid}: ${state}${corruption ? " (corrupted: " + corruption + ")" : ""} ` +
        `${clockTime(start)}\u2013${clockTime(end)}`;
      parts.push(`<rect class=segment data-state="${state}" x="${x(start)}" y="${y - 7}" ` +
        `width="${Math.max(x(end) - x(start), 2)}" height="14" fill="${STATE_COLOURS[state]}"` +
        `${corruption ? ' stroke="#c62828" stroke-width="2"' : ""}><title>` +
        `${escapeHtml(tip)}</title></rect>`);
    }
    parts.push("</g>");
    y += row;
  }
  for (const [consumer, requests] of consumers) {
    parts.push(`<g class=consumer data-consumer="${escapeHtml(consumer)}">` +
      `<line x1="${left}" x2="${width - right}" y1="${y}" y2="${y}" stroke="#eeeeee"/>` +
      `<text x="4" y="${y + 4}">${escapeHtml(short(consumer, 30))}<title>` +
      `${escapeHtml(consumer)}</title></text>`);
    for (const r of requests) {
      const tip = `${clockTime(r.time)} ${r.method} ${r.endpoint} \u2192 ` +
        `${r.status ?? "dropped"} (${consumer})`;
      parts.push(marker(SHAPES[r.endpoint] || "circle", x(r.time), y, statusColour(r.status),
                        tip).replace(/^<(\w+)/, `<$1 class="fetch ${escapeHtml(r.endpoint)}" ` +
                        `data-status="${statusClass(r.status)}"`));
    }
    parts.push("</g>");
    y += row;
  }
  for (const [name, steps] of played) {
    parts.push(`<g class=scenario data-scenario="${escapeHtml(name)}">` +
      `<line x1="${left}" x2="${width - right}" y1="${y}" y2="${y}" stroke="#eeeeee"/>` +
      `<text x="4" y="${y + 4}">${escapeHtml(short(name, 30))}<title>${escapeHtml(name)}` +
      "</title></text>");
    for (const s of steps) {
      if (s.time < from) continue;
      const tip = `${clockTime(s.time)} step ${s.number}: ${s.action} ` +
        `${JSON.stringify(s.options)} ${s.state}${s.error ? ": " + s.error : ""}`;
      parts.push(marker("triangle", x(s.time), y, s.state === "failed" ? "#c62828" : "#6a1b9a",
                        tip).replace(/^<(\w+)/, `<$1 class="step" data-state="${s.state}" ` +
                        `data-action="${escapeHtml(s.action)}"`));
    }
    parts.push("</g>");
    y += row;
  }
  for (const a of activations)
    parts.push(`<line class=rotation data-kid="${escapeHtml(a.kid)}" x1="${x(a.time)}" ` +
      `x2="${x(a.time)}" y1="8" y2="${y - 8}"` +
      ` stroke="#2e7d32" stroke-dasharray="3 3"><title>${escapeHtml(a.kid)} active from ` +
      `${clockTime(a.time)}</title></line>`);
  for (let i = 0; i <= 4; i++) {
    const t = from + (now - from) * i / 4;
    parts.push(`<text x="${x(t)}" y="${y + 6}" text-anchor="${i ? (i === 4 ? "end" : "middle")
      : "start"}" fill="#555555">${clockTime(t)}</text>`);
  }
  box.innerHTML = `<svg viewBox="0 0 ${width} ${y + 12}" height="${y + 12}">` +
    parts.join("") + "</svg>";
  updateKeyStates(keys);
}
// The keys table's state cells follow the ring; keys it does not list ask for a reload.
function updateKeyStates(keys) {
  let unlisted = 0;
  for (const [kid, key] of keys) {
    const last = key.segments[key.segments.length - 1];
    const row = document.querySelector(`#keys tr[data-kid="${CSS.escape(kid)}"]`);
    if (row && last) row.querySelector(".state").textContent = last[2];
    if (!row && !key.gone) unlisted++;
  }
  document.getElementById("keys-stale").hidden = unlisted === 0;
}
function drawLog(requests) {
  const endpoint = document.getElementById("filter-endpoint").value;
  const status = document.getElementById("filter-status").value;
  const shown = requests.filter(r => (!endpoint || (r.endpoint ?? "") === endpoint)
    && (!status || statusClass(r.status) === status)).slice(-50).reverse();
  document.getElementById("log").innerHTML = shown.map(r =>
    `<tr data-endpoint="${escapeHtml(r.endpoint ?? "")}" data-status=` +
    `"${statusClass(r.status)}"><td>${clockTime(r.time)}</td><td>${escapeHtml(r.method)}</td>` +
    `<td>${escapeHtml(r.path)}</td><td>${escapeHtml(r.endpoint ?? "")}</td>` +
    `<td>${r.status ?? "dropped"}</td><td>${(r.duration * 1000).toFixed(1)} ms</td></tr>`
  ).join("");
}
let lastTimeline = null, lastLog = [];
async function refresh() {
  try {
    const [timeline, log] = await Promise.all([fetch(base + "/timeline"),
                                               fetch(base + "/requests")]);
    if (timeline.ok) { lastTimeline = await timeline.json(); drawTimeline(lastTimeline); }
    if (log.ok) { lastLog = (await log.json()).requests; drawLog(lastLog); }
  } catch (error) { /* the provider stopped; the next tick tries again */ }
}
for (const id of ["filter-endpoint", "filter-status"])
  document.getElementById(id).addEventListener("change", () => drawLog(lastLog));
document.getElementById("window").addEventListener("change", () => {
  if (lastTimeline) drawTimeline(lastTimeline);
});
refresh(); setInterval(refresh, 1000);
"""


#: The timeline's frame; the script draws it from ``/timeline`` each second.
_TIMELINE = (
    "<h2>Timeline</h2><p class=legend>"
    + "".join(f'<span><i style="background:{colour}"></i>{state}</span>' for state, colour in (
        ("next", "#9ecbff"), ("active", "#2e7d32"), ("previous", "#f0ad4e"),
        ("revoked", "#bbbbbb")))
    + "<span>\u25cf JWKS \u25a0 discovery \u25c6 token \u25b2 scenario step "
    "(<b style=\"color:#c62828\">failed</b>); colour: "
    "<b style=\"color:#2e7d32\">2xx</b> <b style=\"color:#1565c0\">3xx</b> "
    "<b style=\"color:#ef6c00\">4xx</b> <b style=\"color:#c62828\">5xx</b> "
    "<b>dropped</b>; dashed: a key became active</span>"
    "<label>window <select id=window><option value=0>whole session</option>"
    "<option value=60>last minute</option><option value=300>last 5 minutes</option>"
    "<option value=3600>last hour</option></select></label></p>"
    "<p><small>One row per key, then one per consumer (its address and User-Agent): every "
    "JWKS and discovery fetch and every token request; then one per scenario with its "
    "steps as they played; all on the provider's clock. Hover for details.</small></p>"
    "<div id=timeline></div>"
)


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
            f'<form method=post action="{base}/ui/keys/{escape(quote(key.kid, safe=""))}/{name}">'
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
        "control API</a></p>" + _TIMELINE + "<h2>Keys</h2>"
        f'<form method=post action="{base}/ui/rotate"><select name=alg>' + algs + "</select>"
        "<button id=rotate>rotate</button></form>"
        f'<form method=post action="{base}/ui/keyring" id=keyring><select name=action>'
        + "".join(f'<option title="{escape(a.summary)}">{name}</option>'
                  for name, a in KEY_ACTIONS.items() if not a.kid)
        + f"</select> <select name=alg>{algs}</select> "
        '<label>kid <input name=kid placeholder="thumbprint"></label> '
        "<label><input type=checkbox name=staged> staged (next)</label> "
        "<button id=keyring-apply>apply</button></form>"
        "<p id=keys-stale hidden>Keys changed since this page was made: "
        f'<a href="{base}/ui">reload</a> to act on the new ones.</p>'
        "<table id=keys><tr><th>kid</th><th>alg</th><th>state</th><th>corruption</th>"
        "<th></th></tr>" + "".join(rows) + "</table>"
        + "<h2>Clients</h2><table id=clients><tr><th>client_id</th><th>name</th>"
        "<th>kind</th><th>redirect URIs</th></tr>" + "".join(
            f'<tr data-client="{escape(c.client_id)}"><td><code>{escape(c.client_id)}</code>'
            f"</td><td>{escape(str(c.metadata.get('client_name', '')))}</td>"
            f"<td>{'public' if c.public else 'confidential'}</td>"
            f"<td>{escape(' '.join(c.redirect_uris))}</td></tr>"
            for c in islice(issuer.clients, LISTED_CLIENTS)) + "</table>"
        f'<h2>Endpoint faults</h2><form method=post action="{base}/ui/endpoint" id=faults>'
        f"<select name=endpoint id=fault-endpoint>{endpoints}</select> "
        f"<select name=action id=fault-action>{actions}</select> "
        '<label>options (JSON) <input name=options id=fault-options value="{}"></label> '
        "<button id=apply-fault>apply</button></form>"
        f'<h2>Token decoder</h2><form method=post action="{base}/ui/decode">'
        f"<textarea name=token id=token>{escape(token)}</textarea>"
        "<button id=decode>decode</button></form>"
        + (f"<pre id=decoded>{escape(decoded)}</pre>" if decoded else "")
        + "<h2>Requests</h2><p class=filters><label>endpoint <select id=filter-endpoint>"
        '<option value="">all</option>' + endpoints + "</select></label> "
        "<label>status <select id=filter-status>"
        + "".join(f'<option value="{v}">{v or "all"}</option>'
                  for v in ("", "2xx", "3xx", "4xx", "5xx", "dropped"))
        + "</select></label> (the newest 50 shown)</p>"
        "<table><thead><tr><th>time (provider clock, UTC HH:MM:SS)</th><th>method</th>"
        "<th>path</th><th>endpoint</th><th>status</th><th>took</th></tr></thead>"
        "<tbody id=log></tbody></table>"
        f'<script nonce="{nonce}">document.body.dataset.base = "{base}";'
        f"{_DASHBOARD_SCRIPT}</script>"
    )
    # Its own script (by nonce) and its fetches of the request log; the forms post here.
    return _page("mockidp dashboard", body, wide=True, policy=(
        f"default-src 'none'; script-src 'nonce-{nonce}'; connect-src 'self'; "
        "img-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'"))


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
