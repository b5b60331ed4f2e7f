"""The ``/app`` router and the static front end it serves, without a browser.

HTTP behaviour (redirect, base href under a prefix, content types, cache headers, 304s, what is
refused), the vendored library's provenance, and static checks of the JS module graph: every
import resolves to a file that is served, and nothing is loaded from another origin.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from serve_apps.errors import install_error_handlers
from serve_apps.routes import web

WEB = web.WEB_ROOT
VENDOR = WEB / "vendor"


def make_client(root_path: str = "") -> TestClient:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(web.router)
    return TestClient(app, root_path=root_path)


@pytest.fixture(scope="module")
def client() -> TestClient:
    return make_client()


# --- pages -------------------------------------------------------------------------------------
def test_app_redirects_to_the_slash_url(client: TestClient) -> None:
    r = client.get("/app", follow_redirects=False)
    assert r.status_code == 308 and r.headers["location"] == "/app/"


def test_index_is_html_with_base_href_csp_and_no_cache(client: TestClient) -> None:
    r = client.get("/app/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["cache-control"] == "no-cache"
    assert r.headers["x-content-type-options"] == "nosniff"
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert '<base href="/app/">' in r.text and '<html lang="ko">' in r.text
    assert client.get("/app/index.html").text == r.text


def test_base_href_follows_the_mount_point() -> None:
    """Behind a Serve route_prefix (ASGI root_path) every relative URL must still resolve."""
    prefixed = make_client(root_path="/finray")
    r = prefixed.get("/app/")
    assert r.status_code == 200 and '<base href="/finray/app/">' in r.text
    assert prefixed.get("/app", follow_redirects=False).headers["location"] == "/finray/app/"


def test_kakao_callback_page_is_the_app_and_never_cached(client: TestClient) -> None:
    r = client.get("/app/kakao/callback", params={"code": "abc", "state": "xyz"})
    assert r.status_code == 200 and '<base href="/app/">' in r.text
    assert r.headers["cache-control"] == "no-store"


# --- assets -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("path", "ctype"), [
    ("js/main.js", "text/javascript; charset=utf-8"),
    ("app.css", "text/css; charset=utf-8"),
    ("favicon.svg", "image/svg+xml"),
    ("vendor/SOURCES.md", "text/markdown; charset=utf-8"),
])
def test_assets_have_explicit_types_and_revalidate(client: TestClient, path: str, ctype: str) -> None:
    r = client.get(f"/app/{path}")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == ctype
    assert r.headers["cache-control"] == "no-cache" and r.headers["x-content-type-options"] == "nosniff"
    assert r.content == (WEB / path).read_bytes()
    again = client.get(f"/app/{path}", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.headers["cache-control"] == "no-cache"


def test_vendored_files_are_cached_as_immutable(client: TestClient) -> None:
    r = client.get("/app/vendor/chart.js-4.6.1/chart.umd.min.js")
    assert r.status_code == 200 and r.headers["content-type"] == "text/javascript; charset=utf-8"
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_head_requests_are_answered(client: TestClient) -> None:
    r = client.head("/app/js/api.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript") and not r.content


@pytest.mark.parametrize("path", [
    "/app/missing.js",                 # no such file
    "/app/js/../../routes/web.py",     # outside the folder, and not a served type
    "/app/..%2F..%2Fapi.py",
    "/app/%2e%2e/%2e%2e/pyproject.toml",
    "/app/.hidden.js",                 # dot files
    "/app/vendor/chart.js-4.6.1/chart.umd.min.js.map",  # not a served type
])
def test_anything_else_is_a_json_404(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404, (path, r.status_code)
    assert r.json()["error"] == "not_found"


# --- vendored library ---------------------------------------------------------------------------
def test_vendored_files_match_their_recorded_sha256() -> None:
    sources = (VENDOR / "SOURCES.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([^`]+)` \| `([^`]+)` \| `([^`]+)` \| ([^|]+) \| `([0-9a-f]{64})` \|$", sources, re.M)
    assert {r[0] for r in rows} == {"chart.js-4.6.1/chart.umd.min.js", "chart.js-4.6.1/LICENSE.md"}
    for file, package, _, _, sha in rows:
        assert package == "chart.js@4.6.1"
        assert hashlib.sha256((VENDOR / file).read_bytes()).hexdigest() == sha, file
    served = {p.relative_to(VENDOR).as_posix() for p in VENDOR.rglob("*") if p.is_file()}
    assert served == {"SOURCES.md", *(r[0] for r in rows)}, "every vendored file must be listed in SOURCES.md"
    assert (VENDOR / "chart.js-4.6.1/chart.umd.min.js").read_text(encoding="utf-8").startswith(
        "/*!\n * Chart.js v4.6.1\n"
    )
    assert "MIT License" in (VENDOR / "chart.js-4.6.1/LICENSE.md").read_text(encoding="utf-8")


# --- static checks of the front end -------------------------------------------------------------
def _app_files(suffix: str) -> list[Path]:
    return sorted(p for p in WEB.rglob(f"*{suffix}") if "vendor" not in p.relative_to(WEB).parts)


def test_nothing_is_loaded_from_another_origin() -> None:
    index = (WEB / "index.html").read_text(encoding="utf-8")
    refs = re.findall(r'(?:src|href)="([^"]+)"', index)
    assert refs and all(not re.match(r"^(?:[a-z]+:)?//", ref) for ref in refs), refs
    for ref in refs:
        if not ref.startswith("#") and ref != "/app/":
            assert (WEB / ref).is_file(), f"index.html refers to a missing file {ref}"
    for path in [*_app_files(".js"), *_app_files(".css")]:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"https?://", text), f"{path.name} names an absolute URL"
        assert "@import" not in text, path.name
        # text goes in as text nodes (dom.js): server strings can never become markup
        assert not re.search(r"\.(?:inner|outer)HTML\s*=|insertAdjacentHTML|document\.write", text), path.name


def test_every_module_import_resolves_to_a_served_file() -> None:
    imports = re.compile(r"^\s*import\s+(?:[^'\"]+?\s+from\s+)?['\"]([^'\"]+)['\"];?", re.M)
    modules = _app_files(".js")
    assert len(modules) >= 8
    seen = 0
    for module in modules:
        for spec in imports.findall(module.read_text(encoding="utf-8")):
            seen += 1
            assert spec.startswith(("./", "../")), f"{module.name}: bare import {spec!r} needs a build step"
            target = (module.parent / spec).resolve()
            assert target.is_file() and WEB in target.parents, f"{module.name}: {spec} does not exist"
            assert target.suffix == ".js"
    assert seen >= 15


def test_ui_text_is_korean() -> None:
    index = (WEB / "index.html").read_text(encoding="utf-8")
    assert '<html lang="ko">' in index
    for view in ("login", "advisor", "riskxpert", "admin"):
        text = (WEB / "js" / "views" / f"{view}.js").read_text(encoding="utf-8")
        assert len(re.findall(r"[가-힣]", text)) > 50, view


def test_the_front_end_ships_in_the_package() -> None:
    """A regular install (the container image) must carry serve_apps/web/ as package data."""
    import tomllib

    config = tomllib.loads((WEB.parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["serve_apps"]
    assert "web/**/*" in patterns
