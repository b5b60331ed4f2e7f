"""``/app``: the web front end (Korean UI) — static files from ``serve_apps/web/``.

Plain files, no build step: ``index.html`` loads ES modules from ``js/`` and the vendored
Chart.js from ``vendor/`` (see ``serve_apps/web/vendor/SOURCES.md``); nothing is fetched from
another origin at run time.

* ``GET /app`` → redirect to ``/app/`` (relative asset URLs need the trailing slash).
* ``GET /app/`` and ``GET /app/kakao/callback`` → ``index.html``. Kakao sends the browser back
  to the second one (set ``KAKAO_REDIRECT_URI=<origin>/app/kakao/callback``); the page then
  completes the login with ``GET /api/v1/auth/kakao/callback`` — same origin, so the HttpOnly
  state cookie travels with it.
* ``GET /app/<file>`` → that file, with an explicit ``Content-Type`` and ``nosniff``.

``index.html`` gets a ``<base href>`` naming where the app is mounted (the ASGI ``root_path``
Serve passes for a ``route_prefix``), so the page, its assets and its API calls — all relative
to that base — work at ``/app/`` as well as behind a prefix.

Caching: the page and the app's own JS/CSS change with each deploy and carry no version in
their names, so they are ``no-cache`` (the browser revalidates with the ETag and usually gets a
304). Vendored files live under a versioned folder (``vendor/chart.js-4.6.1/``): cached for a
year, ``immutable``.
"""

from __future__ import annotations

import html
from pathlib import Path, PurePosixPath

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"
APP_PATH = "/app"
INDEX = "index.html"
BASE_PLACEHOLDER = '<base href="/app/">'

#: The only file types served; anything else under the folder is a 404.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
    ".md": "text/markdown; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}
NO_CACHE = "no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"
#: Same-origin everything; Chart.js draws on canvas and sets styles only through the CSSOM.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)

router = APIRouter(tags=["web"], include_in_schema=False)
_files = StaticFiles(directory=WEB_ROOT, check_dir=False)


def base_href(request: Request) -> str:
    """Where ``/app/`` is for this request, e.g. ``/app/`` or ``/prefix/app/``."""
    root = str(request.scope.get("root_path") or "").rstrip("/")
    return f"{root}{APP_PATH}/"


def _security_headers(response: Response) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def _index(request: Request) -> HTMLResponse:
    text = (WEB_ROOT / INDEX).read_text(encoding="utf-8")
    if BASE_PLACEHOLDER not in text:
        raise RuntimeError(f"{INDEX} must contain {BASE_PLACEHOLDER} (replaced with the mount point)")
    page = text.replace(BASE_PLACEHOLDER, f'<base href="{html.escape(base_href(request), quote=True)}">', 1)
    response = HTMLResponse(page, headers={"Cache-Control": NO_CACHE, "Content-Security-Policy": CSP})
    return _security_headers(response)


@router.api_route(APP_PATH, methods=["GET", "HEAD"])
def app_root(request: Request) -> RedirectResponse:
    return RedirectResponse(base_href(request), status_code=308)


# Sync routes: FastAPI runs them in its threadpool, where blocking file reads belong.
@router.api_route(f"{APP_PATH}/", methods=["GET", "HEAD"])
def index(request: Request) -> HTMLResponse:
    return _index(request)


@router.api_route(f"{APP_PATH}/kakao/callback", methods=["GET", "HEAD"])
def kakao_callback_page(request: Request) -> HTMLResponse:
    """Kakao redirects the browser here; the page finishes the login (see the module docstring)."""
    response = _index(request)
    response.headers["Cache-Control"] = "no-store"  # the URL carries a one-time code
    return response


@router.api_route(f"{APP_PATH}/{{path:path}}", methods=["GET", "HEAD"])
async def asset(path: str, request: Request) -> Response:
    parts = PurePosixPath(path).parts
    suffix = PurePosixPath(path).suffix.lower()
    if not parts or any(p.startswith(".") for p in parts) or suffix not in CONTENT_TYPES:
        raise HTTPException(status_code=404, detail=f"no file {APP_PATH}/{path}")
    if parts == (INDEX,):
        return _index(request)
    # StaticFiles resolves the path inside WEB_ROOT (no escaping it), answers 404 for a missing
    # file and 304 for a matching If-None-Match / If-Modified-Since.
    response = await _files.get_response(path, request.scope)
    if response.status_code == 200:
        response.headers["Content-Type"] = CONTENT_TYPES[suffix]
    if response.status_code in (200, 304):
        response.headers["Cache-Control"] = IMMUTABLE if parts[0] == "vendor" and len(parts) > 2 else NO_CACHE
    return _security_headers(response)
