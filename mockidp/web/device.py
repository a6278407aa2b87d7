"""The device authorization grant's two pages (RFC 8628): the endpoint a device calls for its
codes (§3.1-3.2), and the page where the user enters the code (§3.3). The grant that polls for
the tokens is in :mod:`mockidp.web.token`."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode

from .authorize import signed_in_user
from .clientauth import authenticate_client
from .pages import device_page
from .responses import CORS, NO_STORE, OAuthError, check_form, json_response
from .token import DEVICE_CODE

if TYPE_CHECKING:
    from werkzeug.wrappers import Request, Response

    from ..core.issuer import Issuer

__all__ = ["device_authorization", "verification"]


def device_authorization(issuer: Issuer, request: Request) -> Response:
    """RFC 8628 §3.1-3.2: a device code to poll with and a user code to show."""
    check_form(request)
    client = authenticate_client(issuer, request)
    if DEVICE_CODE not in client.grant_types:
        raise OAuthError("unauthorized_client",
                         f"client {client.client_id!r} may not use the device grant")
    now = issuer.clock.time()
    record = issuer.flows.devices.start(client.client_id, request.form.get("scope", ""), now)
    verification_uri = issuer.url_for("device-verification")
    complete = f"{verification_uri}?{urlencode({'user_code': record.user_code})}"
    return json_response({
        "device_code": record.device_code, "user_code": record.user_code,
        "verification_uri": verification_uri, "verification_uri_complete": complete,
        "expires_in": round(record.expires_at - now), "interval": record.interval,
    }, headers={**NO_STORE, **CORS})


def verification(issuer: Issuer, request: Request) -> Response:
    """Where the user enters the code (``verification_uri``): a small page that approves
    or denies it for the default user or the one named in ``login_hint``."""
    params = request.values
    code = params.get("user_code", "")
    message = ""
    if request.method == "POST":
        devices = issuer.flows.devices
        record = devices.by_user_code(code)
        if record is None or record.status != "pending":
            message = "Unknown or used code."
        else:
            sub = None
            if params.get("action") != "deny":
                sub = signed_in_user(issuer, params.get("login_hint") or None).sub
            devices.decide(record, sub=sub, now=issuer.clock.time())
            message = "Device approved." if sub else "Device denied."
    return device_page(code, message)
