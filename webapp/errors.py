"""Error pages in the site's layout, and JSON `{"detail": …}` for the API."""
from flask import current_app, jsonify, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

DEFAULT_DETAILS = {
    401: "Authentication credentials were not provided.",
    403: "You do not have permission to perform this action.",
    404: "Not found.",
    405: "Method not allowed.",
}


def wants_json() -> bool:
    return request.path.startswith("/api/")


def error_response(status: int, detail: str, errors: dict | None = None):
    """The one way the API reports an error."""
    body = {"detail": detail}
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = "Token"
    return response


def _detail(error: HTTPException) -> str:
    if error.code == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        return f"The request is too large: at most {limit} bytes are accepted." if limit else "The request is too large."
    description = error.description or ""
    if description and description != type(error).description:
        return description
    return DEFAULT_DETAILS.get(error.code, error.name)


def init_app(app):
    @app.errorhandler(CSRFError)
    def csrf_error(error):
        detail = f"CSRF check failed: {error.description}"
        if wants_json():
            return error_response(400, detail)
        return render_template("errors/error.html", code=400, detail=detail), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code is None or error.code < 400:
            return error
        if wants_json():
            response = error_response(error.code, _detail(error))
            if error.code == 405 and error.valid_methods:
                response.headers["Allow"] = ", ".join(error.valid_methods)
        elif error.code == 401 and request.headers.get("HX-Request"):
            response = app.response_class(status=401)
            response.headers["HX-Redirect"] = url_for("auth.login", next=request.full_path)
        else:
            response = app.make_response(
                (render_template("errors/error.html", code=error.code, detail=_detail(error)), error.code)
            )
        if error.code == 429 and getattr(error, "retry_after", None):
            response.headers["Retry-After"] = str(error.retry_after)
        return response

    @app.errorhandler(InternalServerError)
    def server_error(error):
        if wants_json():
            return error_response(500, "Internal server error.")
        return render_template("errors/error.html", code=500, detail="Something went wrong on our side."), 500
