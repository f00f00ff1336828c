"""A small client of the Rasa REST channel, and the route markers of the contract.

Used by `make eval`, the end-to-end tests and the benchmarks: they read the bot exactly
as the front ends do.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

ROUTE_KEYS = ("guide", "handoff", "fallback", "menu")


def send(base_url: str, sender: str, message: str, *, timeout: float = 30.0,
         metadata: dict[str, Any] | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """POST one visitor message to the REST channel; return the bot's messages."""
    body: dict[str, Any] = {"sender": sender, "message": message}
    if metadata:
        body["metadata"] = metadata
    request = urllib.request.Request(
        f"{base_url}/webhooks/rest/webhook",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310 (loopback)
        result: list[dict[str, Any]] = json.loads(resp.read() or b"[]")
    return result


def markers(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The route markers (custom payloads with a route key) of one reply."""
    return [
        m["custom"]
        for m in messages
        if isinstance(m.get("custom"), dict) and any(k in m["custom"] for k in ROUTE_KEYS)
    ]


def route_of(messages: list[dict[str, Any]]) -> str:
    """One word for where a reply sent the visitor: a guide id, handoff, fallback, menu, none."""
    found = markers(messages)
    if not found:
        return "none"
    marker = found[0]
    if "guide" in marker:
        return str(marker["guide"])
    for key in ("handoff", "fallback", "menu"):
        if key in marker:
            return key
    return "none"


def route_matches(expected: str, route: str, catalogue_ids: set[str]) -> bool:
    """Compare a reply's route with an evaluation label (see the contract)."""
    if expected == "fallback_or_new":
        return route == "fallback" or (
            route not in {"handoff", "menu", "none"} and route not in catalogue_ids
        )
    return expected == route
