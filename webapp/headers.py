"""Security headers on every response (pages, JSON, errors, static files).

The policy allows only the site's own scripts, styles and images, no inline
code and no framing; htmx is told not to inject its inline indicator style
(see the `htmx-config` meta tag in base.html). When thumbnails are kept in S3,
the thumbnail endpoint redirects to signed URLs on the store's origin, so
`img-src` allows that one origin too (read once, when the app starts).
"""
from flask import request
from flask_login import current_user

from .thumbnails import storage_for

DIRECTIVES = (
    "default-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "object-src 'none'",
)
CONTENT_SECURITY_POLICY = "; ".join(DIRECTIVES)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def content_security_policy(image_origins: list[str]) -> str:
    """The site's policy, with `img-src` widened to `image_origins` when there are any."""
    if not image_origins:
        return CONTENT_SECURITY_POLICY
    return "; ".join((*DIRECTIVES, "img-src " + " ".join(["'self'", *image_origins])))


def thumbnail_image_origins(config) -> list[str]:
    """The origins the thumbnail endpoint redirects to, besides this site (none for a local folder or
    when thumbnails are off)."""
    if not config.get("THUMBNAIL_SIZES"):
        return []
    origin = storage_for(config["THUMBNAIL_ROOT"]).redirect_origin()
    return [origin] if origin else []


def init_app(app):
    headers = dict(HEADERS)
    headers["Content-Security-Policy"] = content_security_policy(thumbnail_image_origins(app.config))

    @app.after_request
    def security_headers(response):
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        # Nothing a signed-in user was answered (a page, JSON, an export, an error) may stay in a
        # shared or back-button cache after sign-out; a response that chose its own caching (a
        # thumbnail's redirect) keeps it, and the site's static files are the same for everyone.
        if request.endpoint != "static" and current_user.is_authenticated:
            response.headers.setdefault("Cache-Control", "no-store")
        return response
