"""Redirect targets that cannot leave the site."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from flask import current_app, request, url_for


def _is_local_path(target: str) -> bool:
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return False
    parts = urlsplit(target)
    return not (parts.scheme or parts.netloc)


def safe_next(target: str | None, default: str | None = None) -> str:
    """``target`` if it is a path on this site, else ``default`` (or the event list)."""
    if target and _is_local_path(target):
        return target
    return default or url_for("public.events")


def same_site_path(target: str | None) -> str | None:
    """The path (and query) of ``target`` if it points into this site, else None.

    Accepts a bare path or a full URL on this request's host (a browser's Referer).
    """
    if not target:
        return None
    if _is_local_path(target):
        return target
    parts = urlsplit(target)
    if parts.scheme in ("http", "https") and parts.netloc == request.host:
        path = parts.path or "/"
        candidate = f"{path}?{parts.query}" if parts.query else path
        return candidate if _is_local_path(candidate) else None
    return None


def absolute_url(path: str) -> str:
    """``path`` on the public base URL (links in mail must work outside a request)."""
    return f"{current_app.config['BASE_URL'].rstrip('/')}{path}"


def map_url(address: str) -> str:
    """An OpenStreetMap search for a street address (no tracking, no key needed)."""
    return "https://www.openstreetmap.org/search?query=" + quote(address or "", safe="")
