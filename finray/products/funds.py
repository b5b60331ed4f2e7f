"""KB fund catalogue (``{"KF04…": {...}}``) → :class:`Product`.

The bundled catalogue is a project's processed copy of KB국민은행 fund pages, not an official API
response. Its ``risk_score`` runs the *other* way from the official Korean 6-grade scale
(매우높은위험 has score 6 there, grade 1 officially), so the grade is taken from the Korean label
and the score is only used as a cross-check: a record whose label and score disagree, or whose
label is unknown, is quarantined rather than guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from pydantic import ValidationError

from finray.products.finlife import RecordError, number, text
from finray.products.model import (
    RISK_GRADE_KO,
    ParseResult,
    Product,
    ProductType,
    QuarantinedRecord,
)

SOURCE = "funds:kb"
GRADE_BY_LABEL: dict[str, int] = {label: grade for grade, label in RISK_GRADE_KO.items()}
RETURN_KEYS = ("m1", "m3", "m6", "m12")
UNKNOWN_MANAGER = "정보 없음"  # the feed's own wording for a missing value (finlife uses it too)


def official_grade(label: Any, score: Any) -> int:
    """Korean label → official grade (1 = 매우높은위험); the file's score must be 7 - grade."""
    if not isinstance(label, str) or label.strip() not in GRADE_BY_LABEL:
        raise RecordError(f"risk_grade={label!r} is not one of {list(GRADE_BY_LABEL)}")
    grade = GRADE_BY_LABEL[label.strip()]
    if score is not None:
        if isinstance(score, bool) or not isinstance(score, int | float | str):
            raise RecordError(f"risk_score={score!r} is not a number")
        try:
            as_int = int(float(score))
        except ValueError:
            raise RecordError(f"risk_score={score!r} is not a number") from None
        if as_int != 7 - grade:
            raise RecordError(
                f"risk_score={score!r} disagrees with risk_grade={label!r} "
                f"(this catalogue scores {label} as {7 - grade})"
            )
    return grade


def _disclosure_month(as_of: Any) -> str | None:
    """``"2026-06-30"`` → ``"202606"``."""
    if as_of is None or as_of == "":
        return None
    try:
        d = date.fromisoformat(str(as_of).strip())
    except ValueError:
        raise RecordError(f"as_of={as_of!r} is not an ISO date (YYYY-MM-DD)") from None
    return f"{d.year:04d}{d.month:02d}"


def _returns(raw: Any) -> dict[str, float]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise RecordError(f"returns={raw!r} is not an object")
    out: dict[str, float] = {}
    for key in sorted(raw, key=lambda k: (RETURN_KEYS.index(k) if k in RETURN_KEYS else 99, str(k))):
        value = number(raw, key, lo=-100.0, hi=10_000.0)
        if value is not None:
            out[str(key)] = value
    return out


def _tags(raw: Any) -> dict[str, Any]:
    """Keep only tags that say something (True, a vintage, a hedge code); drop False/None."""
    if not isinstance(raw, Mapping):
        return {}
    return {str(k): v for k, v in sorted(raw.items()) if v is not None and v is not False}


def _description(record: Mapping[str, Any]) -> str | None:
    parts = [text(record, "one_liner"), text(record, "features")]
    joined = "\n".join(p for p in parts if p)
    return joined or None


def fund_product(code: str, record: Mapping[str, Any], *, seen_on: date | None = None) -> Product:
    """One catalogue entry → :class:`Product`; raises :class:`RecordError` naming the bad field."""
    code = str(code).strip()
    if not code:
        raise RecordError("fund code is missing")
    name = text(record, "name")
    if name is None:
        raise RecordError("name is missing")
    extra = {
        "region": text(record, "region"),
        "share_class": text(record, "share_class"),
        "tags": _tags(record.get("tags")),
        "top_holdings": text(record, "stocks_raw"),
        "as_of": text(record, "as_of"),
    }
    return Product(
        product_id=f"fund:{code}",
        product_type=ProductType.FUND,
        source=SOURCE,
        provider=text(record, "manager") or UNKNOWN_MANAGER,
        product_code=code,
        name=name,
        category=text(record, "fund_type"),
        risk_grade=official_grade(record.get("risk_grade"), record.get("risk_score")),
        fee_pct=number(record, "fee_pct"),
        recent_returns=_returns(record.get("returns")),
        description=_description(record),
        extra={k: v for k, v in extra.items() if v not in (None, {}, "")},
        disclosure_month=_disclosure_month(record.get("as_of")),
        first_seen=seen_on,
        last_seen=seen_on,
    )


def parse_kb_funds(catalogue: Mapping[str, Any], *, seen_on: date | None = None) -> ParseResult:
    """The whole catalogue; bad records are quarantined with a reason, the rest parse."""
    result = ParseResult()
    for code, record in catalogue.items():
        try:
            if not isinstance(record, Mapping):
                raise RecordError(f"record is {type(record).__name__}, not an object")
            result.products.append(fund_product(code, record, seen_on=seen_on))
        except RecordError as err:
            raw = dict(record) if isinstance(record, Mapping) else {"value": record}
            result.quarantined.append(
                QuarantinedRecord(source=SOURCE, key=str(code), reason=str(err), raw=raw)
            )
        except ValidationError as err:
            first = err.errors()[0]
            loc = ".".join(str(p) for p in first.get("loc", ()))
            reason = f"{loc}={first.get('input')!r}: {first.get('msg', 'invalid')}"
            result.quarantined.append(
                QuarantinedRecord(source=SOURCE, key=str(code), reason=reason, raw=dict(record))
            )
    return result
