"""FSS 금융상품한눈에 (finlife) rows → :class:`Product`.

The OpenAPI answers every endpoint with ``{"result": {..., "baseList": [...], "optionList":
[...]}}``: one base row per product and option rows (rates per term, per credit band, per loan
type, pension examples) joined back on ``(fin_co_no, fin_prdt_cd)``. :func:`parse_finlife` does
that join for all six endpoint families; the adapters at the bottom turn the two bundled offline
shapes (a collector's envelope and Django fixtures) into the same ``base_list``/``option_list``
input, so live and offline data take one path.

Tolerant of type, strict of meaning: ``"12"`` and ``12`` are the same term, ``null``/``""`` is a
missing rate, but ``"abc"``, a negative or >100 % rate, a malformed ``dcls_month`` or a missing
identity field quarantines the record (with a reason naming the field and value) and the rest of
the batch goes on. A product whose option row is rejected is withheld as a whole: publishing it
with a rate row silently missing would mislead a customer comparing terms.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import ValidationError

from finray.products.codes import CREDIT_BANDS, FIN_GROUPS  # noqa: F401 - FIN_GROUPS re-exported
from finray.products.model import (
    JoinDeny,
    ParseResult,
    Product,
    ProductType,
    QuarantinedRecord,
    RateOption,
)

ENDPOINTS: dict[str, ProductType] = {
    "depositProductsSearch": ProductType.DEPOSIT,
    "savingProductsSearch": ProductType.SAVING,
    "annuitySavingProductsSearch": ProductType.ANNUITY,
    "mortgageLoanProductsSearch": ProductType.MORTGAGE_LOAN,
    "rentHouseLoanProductsSearch": ProductType.RENT_LOAN,
    "creditLoanProductsSearch": ProductType.CREDIT_LOAN,
}

# ``source`` family per product type: "finlife:<family>".
FAMILIES: dict[ProductType, str] = {
    ProductType.DEPOSIT: "deposit",
    ProductType.SAVING: "saving",
    ProductType.ANNUITY: "annuity",
    ProductType.MORTGAGE_LOAN: "mortgage_loan",
    ProductType.RENT_LOAN: "rent_loan",
    ProductType.CREDIT_LOAN: "credit_loan",
}

# crdt_lend_rate_type A is the rate a customer pays; B/C/D are its components
# (기준금리, 가산금리, 가감조정금리). D is a signed adjustment and may be negative.
CREDIT_RATE_TYPE_LOAN = "A"
CREDIT_RATE_TYPE_ADJUST = "D"

# Free-text values the feed uses for "nothing here"; they carry no product information.
_NO_INFO = frozenset({"", "-", "정보 없음", "정보없음", "기타사항 없음", "기타사항없음"})
_NO_END_DAY = ("9999", "99991231", "9999-12-31")

_PENSION_OPTION_FIELDS = ("pnsn_recp_trm", "pnsn_entr_age", "mon_paym_atm", "paym_prd", "pnsn_strt_age")
_PENSION_EXAMPLES = 4  # one per 수령기간 code for the smallest age/payment/period combination


class RecordError(ValueError):
    """A source row that cannot become (part of) a product; the message names field and value.

    ``option`` is set when the offending row is an option row rather than the base row.
    """

    def __init__(self, message: str, option: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.option = option


_OPTION_TAGS = ("save_trm", "crdt_lend_rate_type_nm", "lend_rate_type_nm", "pnsn_recp_trm")


@contextmanager
def _in_option(row: Mapping[str, Any]) -> Iterator[None]:
    """Attribute errors raised while reading ``row`` to that option row."""
    try:
        yield
    except RecordError as err:
        if err.option is not None:
            raise
        tag = next((f"{t}={row[t]!r}" for t in _OPTION_TAGS if not _blank(row.get(t))), "")
        raise RecordError(f"option row{f' ({tag})' if tag else ''}: {err}", option=row) from None
    except ValidationError as err:
        raise RecordError(f"option row: {_pydantic_reason(err)}", option=row) from None


def _pydantic_reason(err: ValidationError) -> str:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first.get("loc", ()))
    return f"{loc}={first.get('input')!r}: {first.get('msg', 'invalid')}"


# --- value coercion ---------------------------------------------------------------------------
def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def number(
    row: Mapping[str, Any], name: str, *, lo: float | None = 0.0, hi: float | None = 100.0
) -> float | None:
    """Read a number that may arrive as int, float or string; blank means missing.

    ``lo``/``hi`` default to the range of an interest rate in percent.
    """
    value = row.get(name)
    if _blank(value):
        return None
    if isinstance(value, bool):
        raise RecordError(f"{name}={value!r} is not a number")
    try:
        out = float(value.strip().replace(",", "")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise RecordError(f"{name}={value!r} is not a number") from None
    if not math.isfinite(out):
        raise RecordError(f"{name}={value!r} is not a finite number")
    if lo is not None and out < lo:
        raise RecordError(f"{name}={value!r} is below {lo:g}")
    if hi is not None and out > hi:
        raise RecordError(f"{name}={value!r} is above {hi:g}")
    return out


def integer(
    row: Mapping[str, Any], name: str, *, lo: int | None = 0, hi: int | None = None
) -> int | None:
    """Read a whole number ("12", 12, 12.0); blank means missing."""
    out = number(row, name, lo=lo, hi=hi)
    if out is None:
        return None
    if not out.is_integer():
        raise RecordError(f"{name}={row.get(name)!r} is not a whole number")
    return int(out)


def text(row: Mapping[str, Any], name: str) -> str | None:
    """Free text with normalized line breaks; the feed's "정보 없음" fillers become None."""
    value = row.get(name)
    if value is None:
        return None
    out = str(value).replace("\r\n", "\n").replace("\r", "\n").strip()
    return None if out in _NO_INFO else out


def ident(row: Mapping[str, Any], name: str) -> str:
    """A required identity field (codes, names); numbers are accepted and kept as text.

    Runs of whitespace collapse to one space: some names arrive broken over lines
    ("제주Dream\n정기예금"), which would otherwise split the same product's name in search.
    """
    value = row.get(name)
    if _blank(value) or isinstance(value, bool):
        raise RecordError(f"{name} is missing")
    return " ".join(str(value).split())


def yyyymm(row: Mapping[str, Any], name: str = "dcls_month") -> str | None:
    value = row.get(name)
    if _blank(value):
        return None
    out = str(value).strip()
    if not (len(out) == 6 and out.isdigit() and 1 <= int(out[4:]) <= 12):
        raise RecordError(f"{name}={value!r} is not YYYYMM")
    return out


def join_deny(row: Mapping[str, Any]) -> JoinDeny | None:
    value = row.get("join_deny")
    if _blank(value):
        return None
    try:
        return JoinDeny(str(int(str(value).strip())))
    except ValueError:
        raise RecordError(f"join_deny={value!r} is not 1, 2 or 3") from None


def channels(row: Mapping[str, Any]) -> tuple[str, ...]:
    """``join_way`` "인터넷,스마트폰,전화(텔레뱅킹)" → ("인터넷", "스마트폰", "전화(텔레뱅킹)")."""
    raw = text(row, "join_way")
    if raw is None:
        return ()
    parts = (p.strip() for p in raw.replace("\n", ",").split(","))
    return tuple(dict.fromkeys(p for p in parts if p and p not in _NO_INFO))


def _end_day(row: Mapping[str, Any]) -> str | None:
    out = text(row, "dcls_end_day")
    return None if out is None or out.startswith(_NO_END_DAY) else out


def _key(row: Mapping[str, Any]) -> tuple[str, str]:
    return (str(row.get("fin_co_no") or "").strip(), str(row.get("fin_prdt_cd") or "").strip())


def _key_text(key: tuple[str, str]) -> str:
    return f"{key[0] or '?'}/{key[1] or '?'}"


def _row_order(row: Mapping[str, Any]) -> str:
    """Tie-breaker so option order never depends on API paging order."""
    return json.dumps(row, ensure_ascii=False, sort_keys=True, default=str)


def _sort_num(value: Any) -> tuple[int, float, str]:
    try:
        return (0, float(value), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(value))


# --- per-family option handling -----------------------------------------------------------------
def _deposit_rates(options: list[dict[str, Any]]) -> tuple[RateOption, ...]:
    """예금/적금: one rate row per 저축기간 × 단리/복리 (× 적립식 for savings)."""
    rows = sorted(
        options,
        key=lambda o: (
            _sort_num(o.get("save_trm")),
            str(o.get("intr_rate_type_nm") or ""),
            str(o.get("rsrv_type_nm") or ""),
            _row_order(o),
        ),
    )
    out = []
    for o in rows:
        with _in_option(o):
            term = integer(o, "save_trm", lo=1, hi=600)
            if term is None:
                raise RecordError("save_trm is missing")
            out.append(
                RateOption(
                    term_months=term,
                    interest_type=text(o, "intr_rate_type_nm"),
                    reserve_type=text(o, "rsrv_type_nm"),
                    base_rate=number(o, "intr_rate"),
                    max_rate=number(o, "intr_rate2"),
                )
            )
    return tuple(out)


def _credit_rates(options: list[dict[str, Any]]) -> tuple[tuple[RateOption, ...], dict[str, Any]]:
    """개인신용대출: the 대출금리 row per CB score band; components go to ``extra``.

    A 0.0 band means the product is not offered to that band, so it is left out. Only the
    대출금리 (type A) row becomes :class:`RateOption`: mixing in 기준/가산금리 would let "lowest
    rate" answers quote a component no customer pays.
    """
    rows = sorted(options, key=lambda o: (str(o.get("crdt_lend_rate_type") or ""), _row_order(o)))
    values: list[tuple[dict[str, Any], bool, dict[str, float]]] = []
    for o in rows:
        kind = str(o.get("crdt_lend_rate_type") or "").strip()
        bands: dict[str, float] = {}
        with _in_option(o):
            for col, band in CREDIT_BANDS.items():
                v = number(o, col, lo=-100.0 if kind == CREDIT_RATE_TYPE_ADJUST else 0.0)
                if v is not None:
                    bands[band] = v
        values.append((o, kind == CREDIT_RATE_TYPE_LOAN, bands))

    offered_from = [b for _, is_loan, b in values if is_loan] or [b for _, _, b in values]
    offered = {band for b in offered_from for band, v in b.items() if v != 0.0}

    rates: list[RateOption] = []
    components: dict[str, dict[str, float]] = {}
    for o, is_loan, bands in values:
        kept = {band: v for band, v in bands.items() if band in offered}
        if is_loan:
            rates.extend(
                RateOption(label="평균금리" if band == "평균" else f"신용점수 {band}", base_rate=v)
                for band, v in kept.items()
                if v != 0.0
            )
        elif kept:
            name = text(o, "crdt_lend_rate_type_nm") or str(o.get("crdt_lend_rate_type") or "?")
            components.setdefault(name, kept)
    extra: dict[str, Any] = {"rate_components": components} if components else {}
    return tuple(rates), extra


def _house_loan_rates(options: list[dict[str, Any]]) -> tuple[tuple[RateOption, ...], dict[str, Any]]:
    """주택담보/전세자금대출: min–max rate per 담보유형 × 상환방식 × 금리유형."""
    rows = sorted(
        options,
        key=lambda o: (
            str(o.get("mrtg_type_nm") or ""),
            str(o.get("rpay_type_nm") or ""),
            str(o.get("lend_rate_type_nm") or ""),
            _row_order(o),
        ),
    )
    rates: list[RateOption] = []
    averages: dict[str, float] = {}
    for o in rows:
        parts = [text(o, f) for f in ("mrtg_type_nm", "rpay_type_nm", "lend_rate_type_nm")]
        label = " · ".join(p for p in parts if p) or None
        with _in_option(o):
            lo, hi = number(o, "lend_rate_min"), number(o, "lend_rate_max")
            avg = number(o, "lend_rate_avg")
            if lo is not None and hi is not None and lo > hi:
                raise RecordError(f"lend_rate_min={lo!r} is above lend_rate_max={hi!r}")
            rates.append(RateOption(label=label, base_rate=lo, max_rate=hi))
        if avg is not None and label:
            averages.setdefault(label, avg)
    return tuple(rates), ({"avg_rates": averages} if averages else {})


def _pension_summary(options: list[dict[str, Any]]) -> dict[str, Any]:
    """연금저축 options (up to ~100 example payouts) → a compact summary for ``extra``.

    Keeps the row count, the distinct values of each condition, and the payouts of the smallest
    condition combination (e.g. 30세 가입 / 월 10 / 10년 납입 / 60세 개시) for every 수령기간.
    Codes stay codes (fixtures carry no ``*_nm`` names); names are kept when the feed sends them.
    """
    cleaned: list[dict[str, Any]] = []
    for o in options:
        row: dict[str, Any] = {}
        for f in _PENSION_OPTION_FIELDS:
            value = o.get(f)
            if not _blank(value):
                row[f] = value.strip() if isinstance(value, str) else value
            name = text(o, f"{f}_nm")
            if name:
                row[f"{f}_nm"] = name
        with _in_option(o):
            amount = integer(o, "pnsn_recp_amt")
        if amount is not None:
            row["pnsn_recp_amt"] = amount
        cleaned.append(row)
    if not cleaned:
        return {}

    def combo(row: dict[str, Any]) -> tuple[tuple[int, float, str], ...]:
        return tuple(_sort_num(row.get(f)) for f in _PENSION_OPTION_FIELDS[1:])

    first = min(combo(r) for r in cleaned)
    examples = sorted(
        (r for r in cleaned if combo(r) == first),
        key=lambda r: (_sort_num(r.get("pnsn_recp_trm")), _row_order(r)),
    )[:_PENSION_EXAMPLES]
    values = {
        f: sorted({r[f] for r in cleaned if f in r}, key=_sort_num) for f in _PENSION_OPTION_FIELDS
    }
    return {
        "pension_options": {
            "rows": len(cleaned),
            "values": {f: v for f, v in values.items() if v},
            "examples": examples,
        }
    }


# --- product assembly ---------------------------------------------------------------------------
def _base_fields(
    ptype: ProductType, base: dict[str, Any], *, top_fin_grp_no: str | None, seen_on: date | None
) -> dict[str, Any]:
    co, cd = ident(base, "fin_co_no"), ident(base, "fin_prdt_cd")
    return {
        "product_id": f"{ptype.value}:{co}:{cd}",
        "product_type": ptype,
        "source": f"finlife:{FAMILIES[ptype]}",
        "provider": ident(base, "kor_co_nm"),
        "provider_code": co,
        "product_code": cd,
        "name": ident(base, "fin_prdt_nm"),
        "fin_group": top_fin_grp_no,
        "join_channels": channels(base),
        "disclosure_month": yyyymm(base),
        "first_seen": seen_on,
        "last_seen": seen_on,
    }


def _compact(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None and v != {} and v != []}


def _build(
    ptype: ProductType,
    base: dict[str, Any],
    options: list[dict[str, Any]],
    *,
    top_fin_grp_no: str | None,
    seen_on: date | None,
) -> Product:
    fields = _base_fields(ptype, base, top_fin_grp_no=top_fin_grp_no, seen_on=seen_on)
    for o in options:  # option rows carry their own dcls_month; it must be well-formed too
        with _in_option(o):
            yyyymm(o)
    extra: dict[str, Any] = {"dcls_end_day": _end_day(base)}

    if ptype in (ProductType.DEPOSIT, ProductType.SAVING):
        limit = number(base, "max_limit", lo=0.0, hi=None)
        if limit is not None and not limit.is_integer():
            raise RecordError(f"max_limit={base.get('max_limit')!r} is not a whole number of won")
        fields.update(
            rates=_deposit_rates(options),
            preferential_conditions=text(base, "spcl_cnd"),
            maturity_interest=text(base, "mtrt_int"),
            join_member=text(base, "join_member"),
            join_deny=join_deny(base),
            max_limit=None if limit is None else int(limit),
            description=text(base, "etc_note"),
        )
    elif ptype is ProductType.ANNUITY:
        kind = text(base, "pnsn_kind_nm")
        dcls_rate = number(base, "dcls_rate")
        # 연금저축펀드 has no 공시이율; the feed fills 0.0 there, which is not a rate.
        is_fund = kind is not None and "펀드" in kind
        rates = () if dcls_rate is None or (is_fund and dcls_rate == 0.0) else (
            RateOption(label="공시이율", base_rate=dcls_rate),
        )
        returns = {
            key: number(base, col, lo=-100.0, hi=10_000.0)
            for key, col in (
                ("y1_ago", "btrm_prft_rate_1"),
                ("y2_ago", "btrm_prft_rate_2"),
                ("y3_ago", "btrm_prft_rate_3"),
                ("avg", "avg_prft_rate"),
            )
        }
        extra.update(
            prdt_type_nm=text(base, "prdt_type_nm"),
            sale_co=text(base, "sale_co"),
            sale_strt_day=text(base, "sale_strt_day"),
            mntn_cnt=integer(base, "mntn_cnt"),  # 유지건수(건), or 설정액(원) for 펀드
            **_pension_summary(options),
        )
        fields.update(
            category=kind,
            rates=rates,
            guaranteed_rate_text=text(base, "guar_rate"),
            recent_returns={k: v for k, v in returns.items() if v is not None},
            description=text(base, "etc_note") or text(base, "etc"),
        )
    elif ptype is ProductType.CREDIT_LOAN:
        rates, more = _credit_rates(options)
        extra.update(cb_name=text(base, "cb_name"), **more)
        fields.update(category=text(base, "crdt_prdt_type_nm"), rates=rates)
    else:  # mortgage / rent-house loans
        rates, more = _house_loan_rates(options)
        extra.update(
            loan_lmt=text(base, "loan_lmt"),
            erly_rpay_fee=text(base, "erly_rpay_fee"),
            dly_rate=text(base, "dly_rate"),
            loan_inci_expn=text(base, "loan_inci_expn"),
            **more,
        )
        fields.update(rates=rates)

    for name in ("join_member", "join_deny"):  # loans/annuities rarely have them; keep if sent
        if name not in fields and not _blank(base.get(name)):
            fields[name] = join_deny(base) if name == "join_deny" else text(base, name)
    fields["extra"] = _compact(extra)
    return Product(**fields)


def parse_finlife(
    endpoint: str,
    base_list: Iterable[Mapping[str, Any]],
    option_list: Iterable[Mapping[str, Any]],
    *,
    top_fin_grp_no: str | None,
    source_label: str | None = None,
    seen_on: date | None = None,
) -> ParseResult:
    """Join one endpoint's base/option rows and normalize them; bad records are quarantined.

    ``source_label`` (a file name, "live 020000 p.2", ...) only annotates quarantine reasons so
    an operator can find the offending page; it is not stored on products, so the same product
    read from two places keeps the same content hash.
    """
    try:
        ptype = ENDPOINTS[endpoint]
    except KeyError:
        raise ValueError(
            f"unknown finlife endpoint {endpoint!r}; expected one of {sorted(ENDPOINTS)}"
        ) from None
    source = f"finlife:{FAMILIES[ptype]}"
    where = f" [{source_label}]" if source_label else ""
    result = ParseResult()

    def reject(key: str, reason: str, raw: Mapping[str, Any]) -> None:
        record = QuarantinedRecord(source=source, key=key, reason=reason + where, raw=dict(raw))
        result.quarantined.append(record)

    bases: dict[tuple[str, str], dict[str, Any]] = {}
    for row in base_list:
        if not isinstance(row, Mapping):
            reject("?", f"base row is {type(row).__name__}, not an object", {"value": row})
            continue
        try:
            ident(row, "fin_co_no")
            ident(row, "fin_prdt_cd")
        except RecordError as err:
            reject(_key_text(_key(row)), str(err), row)
            continue
        bases[_key(row)] = dict(row)  # a key repeated on a later page replaces the earlier row

    options: dict[tuple[str, str], list[dict[str, Any]]] = {k: [] for k in bases}
    for row in option_list:
        if not isinstance(row, Mapping):
            reject("?", f"option row is {type(row).__name__}, not an object", {"value": row})
            continue
        key = _key(row)
        if key in options:
            options[key].append(dict(row))
        else:
            reason = f"option row matches no base row for fin_co_no/fin_prdt_cd {_key_text(key)}"
            reject(_key_text(key), reason, row)

    for key, base in bases.items():
        opts = options[key]
        try:
            product = _build(ptype, base, opts, top_fin_grp_no=top_fin_grp_no, seen_on=seen_on)
        except RecordError as err:
            if err.option is not None:
                reason = f"{err}; product withheld with its {len(opts)} option rows"
                reject(_key_text(key), reason, err.option)
            else:
                dropped = f" ({len(opts)} option rows dropped with it)" if opts else ""
                reject(_key_text(key), f"{err}{dropped}", base)
        except ValidationError as err:
            reject(_key_text(key), f"invalid product: {_pydantic_reason(err)}", base)
        else:
            result.products.append(product)
    return result


# --- adapters for offline shapes ----------------------------------------------------------------
@dataclass(frozen=True)
class FinlifeBatch:
    """One endpoint's rows ready for :func:`parse_finlife`."""

    endpoint: str
    base_list: list[dict[str, Any]]
    option_list: list[dict[str, Any]]
    top_fin_grp_no: str | None = None
    source_label: str | None = None
    quarantined: list[QuarantinedRecord] = field(default_factory=list)  # rejected by the adapter

    def parse(self, *, seen_on: date | None = None) -> ParseResult:
        result = parse_finlife(
            self.endpoint,
            self.base_list,
            self.option_list,
            top_fin_grp_no=self.top_fin_grp_no,
            source_label=self.source_label,
            seen_on=seen_on,
        )
        result.quarantined[:0] = self.quarantined
        return result


def batch_from_api_result(endpoint: str, payload: Mapping[str, Any], *, top_fin_grp_no: str | None,
                          source_label: str | None = None) -> FinlifeBatch:
    """A live response page ``{"result": {"baseList", "optionList", ...}}``.

    ``err_cd`` handling belongs to the client; this only unwraps the lists.
    """
    body = payload.get("result", payload)
    return FinlifeBatch(
        endpoint=endpoint,
        base_list=list(body.get("baseList") or []),
        option_list=list(body.get("optionList") or []),
        top_fin_grp_no=top_fin_grp_no,
        source_label=source_label,
    )


def batch_from_envelope(doc: Mapping[str, Any], *, source_label: str | None = None) -> FinlifeBatch:
    """The rag_project collector file: ``{endpoint, top_fin_grp_no, base_list, option_list}``.

    Its rows are the API's ``baseList``/``optionList`` items unmodified (pages merged).
    """
    endpoint = doc.get("endpoint")
    if endpoint not in ENDPOINTS:
        raise ValueError(f"envelope endpoint={endpoint!r} is not a finlife endpoint")
    return FinlifeBatch(
        endpoint=str(endpoint),
        base_list=list(doc.get("base_list") or []),
        option_list=list(doc.get("option_list") or []),
        top_fin_grp_no=doc.get("top_fin_grp_no"),
        source_label=source_label,
    )


# Django model → endpoint; deposit fixtures mix 예금 and 적금 via fields.product_type.
FIXTURE_MODELS: dict[str, str] = {
    "savedata.depositproducts": "depositProductsSearch",
    "savedata.savingproducts": "savingProductsSearch",
    "savedata.annuityproducts": "annuitySavingProductsSearch",
    "savedata.creditloanproducts": "creditLoanProductsSearch",
    "savedata.mortgageloanproducts": "mortgageLoanProductsSearch",
    "savedata.renthouseloanproducts": "rentHouseLoanProductsSearch",
}
FIXTURE_PRODUCT_TYPES: dict[str, str] = {"예금": "depositProductsSearch", "적금": "savingProductsSearch"}


def batches_from_fixture(
    products: Iterable[Mapping[str, Any]],
    options: Iterable[Mapping[str, Any]],
    *,
    source_label: str | None = None,
) -> list[FinlifeBatch]:
    """Django fixtures (``{model, pk, fields}``) → one batch per endpoint found.

    Options reach their product through the FK ``fields.product`` → ``pk``; they also carry
    fin_co_no/fin_prdt_cd, which must agree with the product they point to. These fixtures were
    transformed by their project (no ``dcls_month``, no ``topFinGrpNo``), so both stay None.
    """
    by_pk: dict[Any, tuple[str, dict[str, Any]]] = {}
    grouped: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}
    problems: dict[str, list[QuarantinedRecord]] = {}
    where = f" [{source_label}]" if source_label else ""

    def endpoint_of(row: Mapping[str, Any]) -> str:
        fields_ = row.get("fields") or {}
        kind = fields_.get("product_type")
        if kind is not None:
            if kind not in FIXTURE_PRODUCT_TYPES:
                raise RecordError(f"product_type={kind!r} is not 예금 or 적금")
            return FIXTURE_PRODUCT_TYPES[kind]
        model = row.get("model")
        if model not in FIXTURE_MODELS:
            raise RecordError(f"model={model!r} is not a known finlife fixture model")
        return FIXTURE_MODELS[model]

    def reject(endpoint: str, key: str, reason: str, raw: Mapping[str, Any]) -> None:
        source = f"finlife:{FAMILIES[ENDPOINTS[endpoint]]}"
        problems.setdefault(endpoint, []).append(
            QuarantinedRecord(source=source, key=key, reason=reason + where, raw=dict(raw))
        )

    fallback = next(iter(FIXTURE_MODELS.values()))
    rejected_pks: set[Any] = set()
    for row in products:
        fields_ = dict(row.get("fields") or {})
        try:
            endpoint = endpoint_of(row)
        except RecordError as err:
            reject(fallback, _key_text(_key(fields_)), f"{err} (its option rows are dropped with it)", row)
            rejected_pks.add(row.get("pk"))
            continue
        by_pk[row.get("pk")] = (endpoint, fields_)
        grouped.setdefault(endpoint, ([], []))[0].append(fields_)

    for row in options:
        fields_ = dict(row.get("fields") or {})
        target = by_pk.get(fields_.get("product"))
        if target is None and fields_.get("product") in rejected_pks:
            continue  # already reported with its product
        if target is None:
            endpoint = next(iter(grouped), fallback)
            reject(endpoint, _key_text(_key(fields_)),
                   f"option row product={fields_.get('product')!r} matches no product pk", row)
            continue
        endpoint, product_fields = target
        mine, theirs = _key(fields_), _key(product_fields)
        if mine == ("", ""):
            fields_.update(fin_co_no=theirs[0], fin_prdt_cd=theirs[1])
        elif mine != theirs:
            reject(endpoint, _key_text(mine),
                   f"option row fin_co_no/fin_prdt_cd {_key_text(mine)} disagrees with its product "
                   f"pk={fields_.get('product')!r} ({_key_text(theirs)})", row)
            continue
        grouped[endpoint][1].append(fields_)

    endpoints = list(dict.fromkeys([*grouped, *problems]))
    return [
        FinlifeBatch(
            endpoint=ep,
            base_list=grouped.get(ep, ([], []))[0],
            option_list=grouped.get(ep, ([], []))[1],
            top_fin_grp_no=None,
            source_label=source_label,
            quarantined=problems.get(ep, []),
        )
        for ep in endpoints
    ]
