"""Question understanding: a Korean question → :class:`QueryIntent` (domain library, no Ray)."""

from finray.intent.model import Channel, Eligibility, IntentChip, Objective, ProviderClass, QueryIntent
from finray.intent.parse import IntentParser, merge_request
from finray.intent.providers import ProviderDirectory

__all__ = [
    "Channel", "Eligibility", "IntentChip", "IntentParser", "Objective", "ProviderClass", "ProviderDirectory",
    "QueryIntent", "merge_request",
]
