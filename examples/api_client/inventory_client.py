"""An API client that gets its access token with the client credentials grant, keeps it until
shortly before it expires, and retries a failed token request once."""

from __future__ import annotations

import time
from typing import Any

import requests


class InventoryClient:
    def __init__(self, token_url: str, client_id: str, client_secret: str,
                 scope: str = "inventory:read", session: requests.Session | None = None) -> None:
        self.token_url = token_url
        self.auth = (client_id, client_secret)
        self.scope = scope
        self.session = session or requests.Session()
        self._token: str | None = None
        self._expires_at = 0.0

    def access_token(self) -> str:
        if self._token is None or time.monotonic() > self._expires_at - 30:
            self._token, lifetime = self._fetch()
            self._expires_at = time.monotonic() + lifetime
        return self._token

    def _fetch(self) -> tuple[str, float]:
        for attempt in (1, 2):
            response = self.session.post(self.token_url, auth=self.auth, timeout=5, data={
                "grant_type": "client_credentials", "scope": self.scope})
            if response.status_code < 500 or attempt == 2:
                break
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body["access_token"], float(body["expires_in"])

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token()}"}
