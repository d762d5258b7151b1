"""Security headers on every response (pages, JSON, errors, static files).

The policy allows only the site's own scripts, styles and images, no inline
code and no framing; htmx is told not to inject its inline indicator style
(see the `htmx-config` meta tag in base.html).
"""
from flask_login import current_user

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "object-src 'none'",
))
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def init_app(app):
    @app.after_request
    def security_headers(response):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        # A signed-in page must not stay in a shared or back-button cache after sign-out;
        # a response that chose its own caching (a thumbnail's redirect) keeps it.
        if response.mimetype == "text/html" and current_user.is_authenticated:
            response.headers.setdefault("Cache-Control", "no-store")
        return response
