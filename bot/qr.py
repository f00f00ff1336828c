"""QR codes made here, with segno (no service is asked): the kiosk shows one instead of
opening a link, and the printed guide sheets carry one beside each address."""

from __future__ import annotations

import functools
import io
from urllib.parse import urlsplit

import segno

MAX_QR_CHARS = 1000  # far more than any official address; a QR code that dense is unreadable


class NotAnAddress(ValueError):
    """Only http(s) addresses are turned into QR codes."""


def check_address(url: str) -> str:
    """`url` when it is a plain http(s) address of reasonable length, else NotAnAddress."""
    url = (url or "").strip()
    if not url or len(url) > MAX_QR_CHARS or any(c.isspace() or ord(c) < 32 for c in url):
        raise NotAnAddress(url[:80])
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise NotAnAddress(url[:80])
    return url


@functools.lru_cache(maxsize=256)
def qr_svg(url: str, *, scale: int = 8, title: str = "", standalone: bool = False) -> str:
    """SVG encoding `url`, black on white with the standard 4-module quiet zone that phone
    cameras need: ready to inline in HTML, or with `standalone` a file of its own
    (`image/svg+xml`, with its namespace)."""
    code = segno.make(check_address(url), error="m", micro=False)
    options = {"scale": scale, "border": 4, "dark": "#000", "light": "#fff", "nl": False}
    if title:
        options["title"] = title
    buffer = io.BytesIO()
    code.save(buffer, kind="svg", xmldecl=standalone, svgns=standalone, **options)
    return buffer.getvalue().decode("utf-8")
