"""RiskXpert: Korean macro indicator forecasts with a verified summary and scenarios, cached.

``schemas`` (request/response models) · ``narrative`` (facts, offline writer, LLM stages, number
check) · ``service`` (the per-replica service the Serve deployment wraps). Importing this package
never imports torch: serving reads precomputed, published forecasts.
"""

from finray.riskxpert.schemas import ForecastRequest, ForecastResponse, StreamRequest
from finray.riskxpert.service import ForecastUnavailable, RiskXpert, UnknownIndicator, load_service

__all__ = [
    "ForecastRequest", "ForecastResponse", "ForecastUnavailable", "RiskXpert", "StreamRequest",
    "UnknownIndicator", "load_service",
]
