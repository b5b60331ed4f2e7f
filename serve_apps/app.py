"""The Serve application graph; ``serve_config.yaml`` points its import_path here."""

from __future__ import annotations

from serve_apps.ingress import Ingress

app = Ingress.bind()
