"""Data the DAGs produce, as Airflow assets: a DAG scheduled on an asset runs after each update."""

from __future__ import annotations

from airflow.sdk import Asset

#: Product vectors in the store, updated when ``finray_product_etl``'s embed_products succeeds.
PRODUCT_VECTORS = Asset(name="finray_product_vectors", uri="finray://catalogue/product-vectors")
#: A new published forecaster version (``train_forecaster``).
FORECAST_MODELS = Asset(name="finray_forecast_models", uri="finray://riskxpert/models")
