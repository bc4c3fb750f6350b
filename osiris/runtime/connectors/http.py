"""HTTP for the API extractors (graphql.extractor, posthog.extractor): one httpx client with the step's timeout,
retries with exponential backoff for reads only, and failures as StepErrors that never carry a credential.

Retried: timeouts, connection failures, HTTP 408/425/429/5xx (a ``Retry-After`` header in seconds wins over the
backoff, capped at 5 minutes). Not retried: other 4xx; 401/403 become an authentication message that names the
endpoint and never the token. Every secret value the step holds is masked in any text taken from a response.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

import attrs
import httpx

from osiris.runtime.driver import StepError

RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 300.0
MASK = "***"


@attrs.frozen
class Policy:
    """How requests are made: seconds per request, retries after the first try, first backoff delay, TLS check."""

    timeout: float
    max_retries: int
    retry_delay: float
    verify: bool = True


class Scrubber:
    """Masks secret values (and their URL-encoded forms) in text meant for a message."""

    def __init__(self, secrets: Iterable[Any]):
        values: set[str] = set()
        for s in secrets:
            for text in _strings(s):
                if len(text) >= 3:
                    values |= {text, quote(text), quote(text, safe=""), quote_plus(text)}
        self.values = sorted(values, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for value in self.values:
            text = text.replace(value, MASK)
        return text


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


class Api:
    """POSTs JSON to one service; ``what`` names it in every message (e.g. "GraphQL endpoint https://x/graphql")."""

    def __init__(
        self,
        what: str,
        policy: Policy,
        *,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        scrub: Scrubber,
        event: Callable[[str, Mapping[str, Any]], None] = lambda kind, data: None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.what = what
        self.policy = policy
        self.scrub = scrub
        self.event = event
        self.sleep = sleep
        self.client = httpx.Client(
            timeout=httpx.Timeout(policy.timeout),
            verify=policy.verify,
            headers=dict(headers or {}),
            auth=auth,
            follow_redirects=False,
        )
        self.requests = 0

    def close(self) -> None:
        self.client.close()

    def post_json(self, url: str, payload: Mapping[str, Any]) -> Any:
        """The decoded JSON body of a successful POST (the caller guarantees the request only reads)."""
        return self.request("POST", url, json_body=payload)

    def get_json(self, url: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("GET", url, params=params)

    def request(
        self,
        method: str,
        url: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        attempts = self.policy.max_retries + 1
        for attempt in range(1, attempts + 1):
            self.requests += 1
            wait = self.policy.retry_delay * 2 ** (attempt - 1)
            try:
                response = self.client.request(method, url, json=json_body, params=params)
            except httpx.TimeoutException:
                reason = f"no answer within {self.policy.timeout:g} s (timeout)"
            except httpx.TransportError as exc:
                reason = f"cannot connect: {self.scrub(str(exc) or type(exc).__name__)}"
            else:
                status = response.status_code
                if status in (401, 403):
                    raise StepError(
                        f"{self.what}: authentication failed (HTTP {status}{detail(response, self.scrub)}); "
                        "check the credentials in the connection (auth_type, auth_token, headers or api_key)"
                    )
                if status not in RETRY_STATUS:
                    if status >= 300:
                        raise StepError(f"{self.what}: HTTP {status}{detail(response, self.scrub)}")
                    try:
                        return response.json()
                    except (json.JSONDecodeError, UnicodeDecodeError):
                        raise StepError(
                            f"{self.what}: the answer is not JSON ({response.headers.get('content-type', '?')}): "
                            f"{self.scrub(response.text[:200])!r}"
                        ) from None
                reason = f"HTTP {status}{detail(response, self.scrub)}"
                wait = retry_after(response, wait)
            if attempt < attempts:
                self.event("http_retry", {"attempt": attempt, "of": attempts, "reason": reason, "wait_s": wait})
                self.sleep(wait)
        raise StepError(f"{self.what}: {reason}; gave up after {attempts} attempt(s)", retryable=True)


def retry_after(response: httpx.Response, default: float) -> float:
    value = response.headers.get("retry-after", "")
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        return default


def detail(response: httpx.Response, scrub: Callable[[str], str]) -> str:
    """``: <message>`` from a JSON error body (GraphQL ``errors``, ``detail``, ``message``, ``error``), else from
    the start of the text; empty when the body says nothing."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        text = response.text.strip()[:200]
        return f": {scrub(text)}" if text else ""
    message = ""
    if isinstance(body, Mapping):
        if isinstance(body.get("errors"), list):
            message = "; ".join(error_messages(body["errors"]))
        else:
            message = next((str(body[k]) for k in ("detail", "message", "error") if body.get(k)), "")
    return f": {scrub(message[:300])}" if message else ""


def error_messages(errors: list[Any]) -> list[str]:
    """The messages of a GraphQL ``errors`` list (with their path when given)."""
    out = []
    for e in errors:
        if isinstance(e, Mapping):
            msg = str(e.get("message", e))
            if isinstance(e.get("path"), list):
                msg += f" (at {'.'.join(str(p) for p in e['path'])})"
            out.append(msg)
        else:
            out.append(str(e))
    return out
