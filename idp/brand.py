"""The team's brand: a name, a logo and an accent colour on every page and mail.

``IDP_BRAND_NAME`` (default: the issuer's host), ``IDP_BRAND_LOGO_URL`` (an
``https:`` URL or a path on this site, which the pages' Content-Security-Policy
allows) and ``IDP_BRAND_COLOR`` (``#rgb`` or ``#rrggbb``). The colour reaches
the pages as ``/brand.css``, a stylesheet from this site, so the policy needs
no inline style. The text on an accent button and the focus ring are chosen to
keep WCAG contrast (4.5:1 for text, 3:1 for the ring, 1.4.11) whatever the colour.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import urlsplit

from flask import Flask, Response, current_app

HEX = re.compile(r"#(?:[0-9a-fA-F]{3}){1,2}")
DEFAULT_COLOR = "#2f5bd3"
WHITE, INK = "#ffffff", "#1d2330"


@dataclass(frozen=True)
class Brand:
    name: str
    logo_url: str
    color: str

    @property
    def on_accent(self) -> str:
        """Text on the accent colour: white, or ink when white would not show."""
        return WHITE if contrast(self.color, WHITE) >= 4.5 else INK

    @cached_property  # each page links it with its version: worked out once
    def css(self) -> str:
        on_accent = self.on_accent
        # Links and the focus ring sit on white: the accent when it shows there.
        link = self.color if contrast(self.color, WHITE) >= 4.5 else INK
        ring = self.color if contrast(self.color, WHITE) >= 3 else INK
        return (f":root {{ --accent: {self.color}; --accent-fg: {on_accent}; "
                f"--link: {link}; --ring: {ring}; }}\n")

    @cached_property
    def version(self) -> str:
        return hashlib.sha256(self.css.encode()).hexdigest()[:12]


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(color: str) -> float:
    """WCAG 2 relative luminance of ``#rgb`` or ``#rrggbb``."""
    digits = color[1:]
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    r, g, b = (int(digits[i:i + 2], 16) for i in (0, 2, 4))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(a: str, b: str) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def of(config: dict) -> Brand:
    color = str(config.get("IDP_BRAND_COLOR") or DEFAULT_COLOR)
    if not HEX.fullmatch(color):
        raise ValueError("IDP_BRAND_COLOR must be #rgb or #rrggbb")
    logo = str(config.get("IDP_BRAND_LOGO_URL") or "")
    if logo and not (logo.startswith("https://") or
                     (logo.startswith("/") and not logo.startswith("//"))):
        raise ValueError("IDP_BRAND_LOGO_URL must be an https: URL or a path on this site")
    name = str(config.get("IDP_BRAND_NAME") or urlsplit(str(config["IDP_ISSUER"])).hostname
               or "Identity")
    return Brand(name=name, logo_url=logo, color=color.lower())


def current() -> Brand:
    brand: Brand = current_app.extensions["idp_brand"]
    return brand


def _stylesheet() -> Response:
    response = Response(current().css, mimetype="text/css")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


def init_app(app: Flask) -> None:
    app.extensions["idp_brand"] = of(app.config)
    app.add_url_rule("/brand.css", "brand_css", _stylesheet, methods=["GET"])
    app.jinja_env.globals["brand"] = current
    app.jinja_env.filters["host_of"] = lambda url: urlsplit(url).hostname or url
