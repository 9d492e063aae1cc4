"""What keeps the workbench safe to run: an access token when it serves beyond this machine,
a CSRF token on every state change, and headers that forbid scripts, frames and requests from
anywhere else. Page HTML is only ever served under `ORIGINAL_PAGE_POLICY`."""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

CSRF_COOKIE = "docwatch_csrf"
CSRF_FIELD = "csrf"
TOKEN_COOKIE = "docwatch_token"
APP_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self';"
              " frame-src 'self'; frame-ancestors 'none'; base-uri 'none'")
# A stored page's own HTML: no script, no style or image fetched, no request at all, no form,
# no navigation of the workbench around it.
ORIGINAL_PAGE_POLICY = "default-src 'none'; frame-ancestors 'self'; sandbox"
HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


class Guard(BaseHTTPMiddleware):
    """The access token (when one is set), the CSRF cookie, and the security headers."""

    def __init__(self, app, token: str | None) -> None:
        super().__init__(app)
        self.token = token

    async def dispatch(self, request: Request, call_next) -> Response:
        if self.token is not None:
            given = request.query_params.get("token")
            if given is not None:
                if not hmac.compare_digest(given.encode(), self.token.encode()):
                    return PlainTextResponse("wrong token", status_code=401, headers=HEADERS)
                rest = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "token"])
                response: Response = RedirectResponse(request.url.path + (f"?{rest}" if rest else ""), status_code=303)
                response.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="strict")
                return response
            held = request.cookies.get(TOKEN_COOKIE, "")
            if not hmac.compare_digest(held.encode(), self.token.encode()):
                return PlainTextResponse("This workbench needs its access token: open it as /?token=… with the value of"
                                         " DOCWATCH_SERVE_TOKEN.", status_code=401, headers=HEADERS)
        csrf = request.cookies.get(CSRF_COOKIE)
        request.state.csrf = csrf or secrets.token_urlsafe(32)
        response = await call_next(request)
        if csrf is None:
            response.set_cookie(CSRF_COOKIE, request.state.csrf, httponly=True, samesite="strict")
        response.headers.setdefault("Content-Security-Policy", APP_POLICY)
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        return response


async def checked_form(request: Request) -> FormData:
    """The form of a request that changes state, refused (403) unless it carries the CSRF token
    its cookie holds: another site can make a browser post here, but cannot read the token."""
    form = await request.form()
    cookie = request.cookies.get(CSRF_COOKIE, "")
    given = form.get(CSRF_FIELD, "")
    if not cookie or not isinstance(given, str) or not hmac.compare_digest(given.encode(), cookie.encode()):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")
    return form
