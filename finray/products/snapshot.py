"""The bundled offline product snapshot (``finray/bundled``), parsed into per-source results.

With ``FINRAY_PRODUCT_SOURCE=snapshot`` (the default) the catalogue is built from these files,
so the product runs with no API key. They are public sample data (see each folder's
``SOURCES.md``), in two finlife shapes plus the KB fund catalogue, and the shapes overlap: the
2024 Django fixture and the 2026-07 collector file hold some of the same bank products. Each
source keeps one product per ``product_id``, the one with the newest ``disclosure_month`` (the
fixture has none, so it loses), ties going to the file listed first — deterministic.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from finray.products.finlife import FinlifeBatch, batch_from_envelope, batches_from_fixture
from finray.products.funds import parse_kb_funds
from finray.products.model import ParseResult, Product


@dataclass(frozen=True)
class SnapshotFile:
    """One bundled input: ``paths`` are relative to :func:`bundled_dir`."""

    shape: Literal["envelope", "fixture", "kb_funds"]
    paths: tuple[str, ...]  # fixture: (products, options)


_DEPOSIT_FIXTURE = SnapshotFile(
    "fixture",
    ("finlife/thefp_fixture_deposit_products.json", "finlife/thefp_fixture_deposit_options.json"),
)

# source → files feeding it, in order of preference when the same product_id appears twice.
SNAPSHOT_FILES: dict[str, tuple[SnapshotFile, ...]] = {
    "finlife:deposit": (
        SnapshotFile("envelope", ("finlife/deposit_202607_bank_rag_project.json",)),
        _DEPOSIT_FIXTURE,  # its 예금 rows
    ),
    "finlife:saving": (
        SnapshotFile("envelope", ("finlife/saving_202607_bank_rag_project.json",)),
        _DEPOSIT_FIXTURE,  # its 적금 rows
    ),
    "finlife:annuity": (
        SnapshotFile(
            "fixture",
            ("finlife/thefp_fixture_annuity_products.json", "finlife/thefp_fixture_annuity_options.json"),
        ),
    ),
    "finlife:credit_loan": (
        SnapshotFile(
            "fixture",
            (
                "finlife/thefp_fixture_creditloan_products.json",
                "finlife/thefp_fixture_creditloan_options.json",
            ),
        ),
    ),
    "funds:kb": (SnapshotFile("kb_funds", ("funds/kb_elite_funds_asof_20260630.json",)),),
}


def bundled_dir() -> Path:
    """``finray/bundled`` inside the installed package (regular, unzipped install)."""
    return Path(str(resources.files("finray").joinpath("bundled")))


def _read(path: str) -> Any:
    with (bundled_dir() / path).open(encoding="utf-8") as fh:
        return json.load(fh)


def parse_snapshot_file(spec: SnapshotFile, *, seen_on: date | None = None) -> ParseResult:
    """Parse one bundled input; a fixture may yield products of several sources (예금 + 적금)."""
    if spec.shape == "kb_funds":
        return parse_kb_funds(_read(spec.paths[0]), seen_on=seen_on)
    label = Path(spec.paths[0]).name
    batches: list[FinlifeBatch]
    if spec.shape == "envelope":
        batches = [batch_from_envelope(_read(spec.paths[0]), source_label=label)]
    else:
        products, options = (_read(p) for p in spec.paths)
        batches = batches_from_fixture(products, options, source_label=label)
    result = ParseResult()
    for batch in batches:
        result.extend(batch.parse(seen_on=seen_on))
    return result


def newest_per_id(ranked: list[list[Product]]) -> list[Product]:
    """One product per id: newest ``disclosure_month`` wins, then the earlier list; sorted by id."""
    best: dict[str, tuple[str, int, Product]] = {}
    for rank, products in enumerate(ranked):
        for product in products:
            month = product.disclosure_month or ""
            held = best.get(product.product_id)
            # newer month wins; same month → the earlier file (lower rank) keeps its place
            if held is None or month > held[0]:
                best[product.product_id] = (month, rank, product)
    return [best[pid][2] for pid in sorted(best)]


def load_snapshot(seen_on: date | None = None, sources: list[str] | None = None) -> dict[str, ParseResult]:
    """Bundled sources (all, or the ones named), keyed by source name, deduplicated by ``product_id``.

    Collection tasks ask for one source each, so only that source's files are parsed.
    """
    parsed: dict[SnapshotFile, ParseResult] = {}
    out: dict[str, ParseResult] = {}
    for source, specs in SNAPSHOT_FILES.items():
        if sources is not None and source not in sources:
            continue
        ranked: list[list[Product]] = []
        result = ParseResult()
        for spec in specs:
            if spec not in parsed:
                parsed[spec] = parse_snapshot_file(spec, seen_on=seen_on)
            ranked.append([p for p in parsed[spec].products if p.source == source])
            result.quarantined.extend(q for q in parsed[spec].quarantined if q.source == source)
        result.products = newest_per_id(ranked)
        out[source] = result
    return out
