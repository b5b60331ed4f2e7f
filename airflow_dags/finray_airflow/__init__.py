"""Helpers the finray DAGs share: RayJob create/wait/cleanup operators, Slack alerts, settings.

Lives in the DAG folder (Airflow puts it on ``sys.path``) and is excluded from DAG parsing by
``.airflowignore``. It imports the repository's ``k8s`` package for the RayJob bodies, which
needs only PyYAML: install it into Airflow's environment with ``pip install --no-deps <repo>``
(or put the repository root on ``PYTHONPATH``).
"""
