"""Korean macro indicators for RiskXpert: the catalogue, the bundled series, the ECOS client."""

from finray.indicators.series import (
    INDICATORS,
    Indicator,
    Observations,
    load_bundled,
    load_bundled_observations,
    normalize_monthly,
    usable_history,
)

__all__ = [
    "INDICATORS",
    "Indicator",
    "Observations",
    "load_bundled",
    "load_bundled_observations",
    "normalize_monthly",
    "usable_history",
]
