"""Poll a URL until it answers 200, so `make up` prints URLs only once the app really serves."""

from __future__ import annotations

import argparse
import sys
import time

import httpx


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--timeout", type=float, default=120)
    args = ap.parse_args()
    deadline = time.monotonic() + args.timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            r = httpx.get(args.url, timeout=5)
            if r.status_code == 200:
                print(f"ready: {args.url} -> {r.text[:300]}")
                return 0
            last = f"HTTP {r.status_code}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(1)
    print(f"not ready after {args.timeout:.0f}s: {args.url} ({last})", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
