"""Run the browser tests' application by hand, to look at the web app while working on it.

    .venv/bin/python -m tests.browser.devserver [--home DIR] [--port N]

Builds (once) the same small home the browser tests use, starts local Ray and Serve on a free
127.0.0.1 port (or ``--port``) and keeps serving until interrupted. Static files are read from
``serve_apps/web/`` on every request, so edits show on reload.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from tests.browser.harness import ADMIN_USER, build_web_home, jwt_secret, replica_env, web_application
from tests.serve_fixtures import free_port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path("/tmp/finray-webdev/home"))
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()

    from ray import serve

    from data_jobs.runtime import ensure_ray

    ensure_ray(num_cpus=2)
    if not (args.home / "models").exists():
        build_web_home(args.home)
    port = args.port or free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(web_application(replica_env(args.home, jwt_secret())), name="web-dev", route_prefix="/")
    print(f"web app: http://127.0.0.1:{port}/app/  (admin: {ADMIN_USER})", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
