"""The Serve application graph; ``serve_config.yaml`` points its import_path here.

::

    HTTP ─▶ Ingress (FastAPI) ─┬─▶ QueryEmbedder            (search: embed the query)
                               ├─▶ Retriever                (search)
                               ├─▶ Advisor (LangGraph) ─┬─▶ QueryEmbedder
                               │                        ├─▶ Retriever
                               │                        └─▶ Reranker ─▶ Retriever (vectors)
                               └─▶ Forecaster               (RiskXpert: forecasts, narrative, cache)

Each ``.bind()`` result is one deployment; passing the same one to several constructors gives
them handles to the same replicas.
"""

from __future__ import annotations

from collections.abc import Mapping

from ray.serve import Application
from ray.serve.deployment import Deployment

from serve_apps.advisor import Advisor
from serve_apps.forecaster import Forecaster
from serve_apps.ingress import Ingress
from serve_apps.query_embedder import QueryEmbedder
from serve_apps.reranker import Reranker
from serve_apps.retriever import Retriever


def build_app(env_vars: Mapping[str, str] | None = None) -> Application:
    """The application; ``env_vars`` are set in every replica (tests point FINRAY_HOME this way).

    ``serve deploy`` uses :data:`app` (replicas then get the environment of the Ray cluster and
    the config file's ``runtime_env``).
    """

    def d(deployment: Deployment) -> Deployment:
        if not env_vars:
            return deployment
        options = dict(deployment.ray_actor_options or {})
        runtime_env = dict(options.get("runtime_env") or {})
        runtime_env["env_vars"] = {**runtime_env.get("env_vars", {}), **env_vars}
        return deployment.options(ray_actor_options={**options, "runtime_env": runtime_env})

    embedder = d(QueryEmbedder).bind()
    retriever = d(Retriever).bind()
    reranker = d(Reranker).bind(retriever)
    advisor = d(Advisor).bind(embedder, retriever, reranker)
    forecaster = d(Forecaster).bind()  # starts without a published model too: forecasts answer 503
    return d(Ingress).bind(embedder=embedder, retriever=retriever, advisor=advisor, forecaster=forecaster)


app = build_app()
