"""The login page (sets the session cookie) and a Bokeh auth provider so the dashboard at ``/`` is behind the
same token as the API when the server binds a non-loopback address."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from bokeh.server.auth_provider import AuthProvider

from hedgestack.api.base import ApiHandler
from hedgestack.api.context import COOKIE, ApiContext
from hedgestack.api.errors import ApiError

if TYPE_CHECKING:
    from collections.abc import Callable

    import tornado.web

LOGIN_URL = "/v1/login"

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>hedgestack: log in</title>
<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto}}input{{width:100%;padding:.4rem}}
.err{{color:#b00}}</style></head>
<body><h1>hedgestack</h1><p>This server needs its access token (<code>HEDGESTACK_TOKEN</code>).</p>
{error}<form method="post" action="{action}">
<label>Token <input type="password" name="token" autocomplete="current-password" autofocus></label>
<p><button type="submit">Log in</button></p></form></body></html>"""


def safe_next(target: str | None) -> str:
    """Only local paths (no scheme, no host, no protocol-relative ``//``) are followed after login."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


class LoginHandler(ApiHandler):
    """GET: a small form. POST (form field ``token``): sets an HttpOnly, SameSite=Strict cookie holding an
    HMAC of the token and redirects to ``next``. ``POST /v1/logout`` clears it."""

    authenticated = False

    async def prepare(self) -> None:
        if self.request.method == "POST":  # a form post from another site must not log anyone in
            origin = self.request.headers.get("Origin")
            if origin is not None and not self.ctx.origin_allowed(origin, self.request.host):
                raise ApiError(403, "FORBIDDEN_ORIGIN", f"origin {origin[:80]!r} is not allowed")

    def _page(self, error: str = "", status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        nxt = safe_next(self.get_argument("next", None))
        action = LOGIN_URL + ("?" + urlencode({"next": nxt}) if nxt != "/" else "")
        self.finish(_PAGE.format(error=f'<p class="err">{html.escape(error)}</p>' if error else "",
                                 action=html.escape(action)))

    async def get(self) -> None:
        if self.ctx.token is None:
            self.redirect(safe_next(self.get_argument("next", None)))
            return
        self._page()

    async def post(self) -> None:
        if self.ctx.token is None:
            raise ApiError(404, "NOT_FOUND", "this server has no token: nothing to log in to")
        token = self.get_body_argument("token", default="") or ""
        if not self.ctx.token_matches(token):
            self._page("Wrong token.", 401)
            return
        self.set_cookie(COOKIE, self.ctx.session_value(), httponly=True, samesite="Strict", path="/",
                        secure=self.request.protocol == "https")
        self.redirect(safe_next(self.get_argument("next", None)), status=303)

    def check_xsrf_cookie(self) -> None:  # the Origin check above and SameSite=Strict do this job
        return None


class LogoutHandler(ApiHandler):
    authenticated = False

    async def post(self) -> None:
        self.clear_cookie(COOKIE, path="/")
        self.reply({"ok": True})


class TokenAuthProvider(AuthProvider):
    """Protects the Panel/Bokeh routes with the API's token: the bearer header or the login cookie."""

    def __init__(self, ctx: ApiContext) -> None:
        self._ctx = ctx
        super().__init__()

    @property
    def get_user(self) -> Callable[[tornado.web.RequestHandler], Any]:  # type: ignore[override]
        def user(handler: tornado.web.RequestHandler) -> str | None:
            try:
                self._ctx.authorize(handler.request.headers.get("Authorization"), handler.get_cookie(COOKIE),
                                    handler.request.remote_ip)
            except ApiError:
                return None
            return "trader"

        return user

    @property
    def login_url(self) -> str:
        return LOGIN_URL
