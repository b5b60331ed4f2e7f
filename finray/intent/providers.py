"""Financial companies as customers name them, resolved against the catalogue's own provider list.

Customers write "KB", "국민은행", "카뱅", "IBK기업은행"; the catalogue says "국민은행",
"주식회사 카카오뱅크", "중소기업은행". A :class:`ProviderDirectory` is built from the providers
the catalogue actually holds: each name gets its own forms (without "주식회사", Latin initials for
spelled-out ones such as 케이비 → KB) plus the well-known public aliases in :data:`ALIASES`. A
name is only ever resolved to providers in the catalogue — an alias whose target is absent
resolves to nothing, and a bank-like word that matches no provider is reported as unresolved
instead of being guessed.

Matching is longest-first over the question with spaces removed, so "우리금융저축은행" never
yields "우리은행" and "KB저축은행" never yields "국민은행".
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from finray.intent.model import ProviderClass
from finray.products.model import Product

#: Public alias → catalogue provider names it means (official English/short names and brand
#: names of Korean banks; sources: each bank's own site and the FSS company list). Targets
#: missing from a catalogue are ignored.
ALIASES: dict[str, tuple[str, ...]] = {
    "KB": ("국민은행",), "KB국민": ("국민은행",), "KB국민은행": ("국민은행",), "국민은행": ("국민은행",),
    "케이비국민은행": ("국민은행",),
    "카카오뱅크": ("주식회사 카카오뱅크",), "카뱅": ("주식회사 카카오뱅크",), "카카오": ("주식회사 카카오뱅크",),
    "케이뱅크": ("주식회사 케이뱅크",), "K뱅크": ("주식회사 케이뱅크",), "케뱅": ("주식회사 케이뱅크",),
    "토스뱅크": ("토스뱅크 주식회사",), "토스": ("토스뱅크 주식회사",),
    "하나은행": ("하나은행", "주식회사 하나은행"), "KEB하나은행": ("하나은행", "주식회사 하나은행"),
    "KEB하나": ("하나은행", "주식회사 하나은행"),
    "농협은행": ("농협은행주식회사",), "NH농협은행": ("농협은행주식회사",), "NH농협": ("농협은행주식회사",),
    "농협": ("농협은행주식회사",),
    "기업은행": ("중소기업은행",), "IBK기업은행": ("중소기업은행",), "IBK": ("중소기업은행",),
    "산업은행": ("한국산업은행",), "KDB산업은행": ("한국산업은행",),
    "SC제일은행": ("한국스탠다드차타드은행",), "SC은행": ("한국스탠다드차타드은행",),
    "제일은행": ("한국스탠다드차타드은행",), "스탠다드차타드": ("한국스탠다드차타드은행",),
    "iM뱅크": ("아이엠뱅크", "대구은행"), "아이엠뱅크": ("아이엠뱅크", "대구은행"),
    "대구은행": ("대구은행", "아이엠뱅크"), "DGB대구은행": ("대구은행", "아이엠뱅크"),
    "BNK부산은행": ("부산은행",), "BNK경남은행": ("경남은행",), "JB전북은행": ("전북은행",),
    "JB광주은행": ("광주은행",), "Sh수협은행": ("수협은행",), "수협": ("수협은행",),
    "신한": ("신한은행",), "우리": (),  # "우리" is also "we": never a provider on its own
}

#: Spelled-out Latin initials in provider names → the letters people write (케이비저축은행 → KB저축은행).
_INITIALS = {
    "케이디비": "KDB", "케이비": "KB", "엔에이치": "NH", "아이비케이": "IBK", "디비": "DB", "에스비아이": "SBI",
    "오케이": "OK", "비엔케이": "BNK", "제이티": "JT", "오에스비": "OSB", "엠에스": "MS", "에스앤티": "S&T",
    "디에이치": "DH", "에이비엘": "ABL", "케이씨지아이": "KCGI", "아이엠": "iM",
}
_CORP_RE = re.compile(r"주식회사|\(주\)|㈜")
_INTERNET_BANKS = ("카카오뱅크", "케이뱅크", "토스뱅크")
#: Words that end a provider name; a word ending so that matches no provider is "unresolved".
PROVIDER_SUFFIXES = ("저축은행", "은행", "뱅크", "생명", "손해보험", "화재", "자산운용", "투자신탁운용")


def compact(text: str) -> str:
    """Spaces removed and Latin folded to lower case: the form names are matched in."""
    return re.sub(r"\s+", "", text).casefold()


def short_forms(provider: str) -> set[str]:
    """The forms of one catalogue name that customers write (without 주식회사, with Latin initials…)."""
    bare = _CORP_RE.sub("", provider).strip()
    forms = {provider, bare}
    for spelled, latin in _INITIALS.items():
        if bare.startswith(spelled):
            forms.add(latin + bare[len(spelled):])
    for f in list(forms):
        for long, short in (("생명보험", "생명"), ("화재해상보험", "화재"), ("손해보험", "손보"),
                            ("상호저축은행", "저축은행")):
            if long in f:
                forms.add(f.replace(long, short))
    return {f for f in forms if len(compact(f)) >= 2}


def provider_class(provider: str, fin_groups: Iterable[str | None]) -> ProviderClass | None:
    """The class of a provider from its 권역 code (FSS topFinGrpNo) and, for 인터넷은행, its name."""
    groups = set(fin_groups)
    if any(b in provider for b in _INTERNET_BANKS):
        return ProviderClass.INTERNET_BANK
    if "030300" in groups or provider.endswith("저축은행"):
        return ProviderClass.SAVINGS_BANK
    if "020000" in groups or provider.endswith("은행"):
        return ProviderClass.BANK
    if "050000" in groups or re.search(r"생명|손해보험|화재|보험", provider):
        return ProviderClass.INSURER
    if re.search(r"자산운용|투자신탁운용|운용", provider):
        return ProviderClass.ASSET_MANAGER
    return None


@dataclass(frozen=True)
class ProviderMatch:
    written: str  # as the customer wrote it (spaces kept)
    providers: tuple[str, ...]  # catalogue names
    start: int  # in the compacted text
    end: int


@dataclass
class ProviderDirectory:
    """Catalogue providers, their classes, and every written form that names them."""

    providers: tuple[str, ...]
    classes: dict[str, ProviderClass] = field(default_factory=dict)
    forms: dict[str, tuple[str, ...]] = field(default_factory=dict)  # compacted form → providers
    _of_class: dict[ProviderClass, list[str]] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_products(cls, products: Iterable[Product]) -> ProviderDirectory:
        groups: dict[str, set[str | None]] = defaultdict(set)
        for p in products:
            groups[p.provider].add(p.fin_group)
        return cls.build(groups)

    @classmethod
    def build(cls, groups: dict[str, set[str | None]]) -> ProviderDirectory:
        names = tuple(sorted(groups))
        forms: dict[str, set[str]] = defaultdict(set)
        for name in names:
            for f in short_forms(name):
                forms[compact(f)].add(name)
        known = set(names)
        for alias, targets in ALIASES.items():
            hit = {t for t in targets if t in known}
            key = compact(alias)
            if not targets:
                forms.pop(key, None)
            elif hit and key not in forms:  # a catalogue name's own form wins over an alias
                forms[key] = hit
        classes = {n: c for n in names if (c := provider_class(n, groups[n])) is not None}
        return cls(providers=names, classes=classes, forms={k: tuple(sorted(v)) for k, v in forms.items()})

    def of_class(self, klass: ProviderClass) -> list[str]:
        """Every provider of a class (인터넷은행 are banks too); computed once per class, since
        constraint checks ask for it once per hit."""
        if klass not in self._of_class:
            wanted = {ProviderClass.BANK, ProviderClass.INTERNET_BANK} if klass is ProviderClass.BANK else {klass}
            self._of_class[klass] = [p for p in self.providers if self.classes.get(p) in wanted]
        return self._of_class[klass]

    def find(self, text: str) -> list[ProviderMatch]:
        """Provider names in ``text``, longest first, never overlapping, in text order.

        A short Latin form (KB, IBK) must not be glued to other Latin letters; a match is only
        kept when it does not continue into a longer name of another company (the longest-first
        scan already took those).
        """
        flat, index = _compact_with_index(text)
        taken = [False] * len(flat)
        found: list[ProviderMatch] = []
        for form in sorted(self.forms, key=len, reverse=True):
            start = flat.find(form)
            while start != -1:
                end = start + len(form)
                if not any(taken[start:end]) and _bounded(flat, start, end):
                    for i in range(start, end):
                        taken[i] = True
                    written = text[index[start] : index[end - 1] + 1]
                    found.append(ProviderMatch(written, self.forms[form], start, end))
                start = flat.find(form, end)
        return sorted(found, key=lambda m: m.start)


def _compact_with_index(text: str) -> tuple[str, list[int]]:
    chars, index = [], []
    for i, c in enumerate(text):
        if not c.isspace():
            chars.append(c.casefold())
            index.append(i)
    return "".join(chars), index


def _bounded(flat: str, start: int, end: int) -> bool:
    """Latin forms must not sit inside a longer Latin word ("kb" in "kbs")."""
    if flat[start].isascii() and flat[start].isalpha() and start > 0 and flat[start - 1].isascii() and flat[start - 1].isalpha():
        return False
    last = flat[end - 1]
    return not (last.isascii() and last.isalpha() and end < len(flat) and flat[end].isascii() and flat[end].isalpha())


def unresolved_names(text: str, matches: Sequence[ProviderMatch], words: Iterable[str]) -> list[str]:
    """Company-like words (``words``: nouns from the analyzer) that matched no catalogue provider."""
    covered = " ".join(m.written for m in matches)
    out = []
    for w in words:
        if len(w) > len("은행") and w.endswith(PROVIDER_SUFFIXES) and w not in covered and w not in out:
            if w in ("저축은행", "인터넷은행", "시중은행", "지방은행", "인터넷전문은행"):
                continue
            out.append(w)
    return out
