"""``python -m k8s render --env prod|staging|dev|all [--check]`` and ``python -m k8s extract-schemas``.

``render`` writes ``k8s/rendered/<env>/``; with ``--check`` it writes nothing and exits 1 listing
every stale, missing or leftover file (CI and a test run it). ``extract-schemas`` regenerates
``k8s/schemas/`` from the KubeRay CRD files (default ``../shared/kuberay-crds``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from k8s.environments import ENVIRONMENTS


def _render(args: argparse.Namespace) -> int:
    from k8s.render import RenderError, check, write

    envs = list(ENVIRONMENTS) if args.env == "all" else [args.env]
    out = Path(args.dir)
    try:
        if args.check:
            problems = [p for e in envs for p in check(e, out)]
            for p in problems:
                print(p, file=sys.stderr)
            if problems:
                print(f"error: rendered manifests are stale; run `python -m k8s render --env {args.env}`",
                      file=sys.stderr)
                return 1
            print(f"rendered manifests are up to date ({', '.join(envs)})")
            return 0
        for e in envs:
            for path in write(e, out):
                print(f"wrote {path}")
    except RenderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _extract(args: argparse.Namespace) -> int:
    from k8s.crd_schemas import SCHEMA_DIR, extract_all

    try:
        extracted = extract_all(Path(args.crds))
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for name, (text, sha) in extracted.items():
        (SCHEMA_DIR / name).write_text(text, encoding="utf-8")
        print(f"wrote {SCHEMA_DIR / name} (from CRD sha256 {sha})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m k8s", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("render", help="render manifests for an environment")
    r.add_argument("--env", required=True, choices=[*ENVIRONMENTS, "all"])
    r.add_argument("--check", action="store_true", help="fail if the committed files differ; write nothing")
    r.add_argument("--dir", default=str(Path(__file__).resolve().parent / "rendered"),
                   help="where the rendered tree lives (default: k8s/rendered)")
    r.set_defaults(func=_render)
    x = sub.add_parser("extract-schemas", help="regenerate k8s/schemas/ from the KubeRay CRDs")
    x.add_argument("--crds", default=str(Path(__file__).resolve().parent.parent.parent / "shared" / "kuberay-crds"))
    x.set_defaults(func=_extract)
    args = ap.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
