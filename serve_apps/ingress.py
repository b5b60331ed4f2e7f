"""Ingress: the one HTTP entry point — a FastAPI app (OpenAPI at ``/docs``) behind Ray Serve.

The routes live in ``serve_apps/routes/`` and reach their collaborators through
``serve_apps/deps.py``; this deployment builds those collaborators once per replica (store,
read-only user DB, the chat-log writer, metrics, the handles of the other deployments) and then
the FastAPI app around them (``__serve_build_asgi_app__``, called by Serve after ``__init__``).
Extra keyword handles (``forecaster=...``) become available to routes under their name.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from ray import serve
from ray.serve.handle import DeploymentHandle

from finray.chatlog import BufferedLogWriter
from finray.config import load_settings
from finray.embeddings.factory import embedder_identity
from finray.stores.factory import open_store
from finray.users.db import create_readonly_engine
from serve_apps.api import create_app
from serve_apps.deps import Services
from serve_apps.observability import ServeMetrics, adopt_domain_loggers


@serve.deployment(
    max_ongoing_requests=64,
    autoscaling_config={
        "min_replicas": 1, "max_replicas": 2, "target_ongoing_requests": 16,
        "upscale_delay_s": 10, "downscale_delay_s": 300,
    },
    ray_actor_options={"num_cpus": 0.15},
)
@serve.ingress()
class Ingress:
    def __init__(
        self, embedder: DeploymentHandle, retriever: DeploymentHandle, advisor: DeploymentHandle,
        **handles: DeploymentHandle,
    ) -> None:
        adopt_domain_loggers()
        settings = load_settings()
        store = open_store(settings)
        self._services = Services(
            settings=settings,
            store=store,
            user_db=create_readonly_engine(settings.resolved_user_db_url),
            embedder_name=embedder_identity(settings)[0],
            handles={"embedder": embedder, "retriever": retriever, "advisor": advisor, **handles},
            log_writer=BufferedLogWriter(store),
            metrics=ServeMetrics(),
        )

    def __serve_build_asgi_app__(self) -> FastAPI:
        return create_app(self._services, echo_request_id=False)

    def __del__(self) -> Any:
        self._services.log_writer.close()  # write the logs still queued
