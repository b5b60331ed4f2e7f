"""Ray Data jobs: the entry points Airflow launches as KubeRay RayJobs (`python -m data_jobs <job>`)."""
