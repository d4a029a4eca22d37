"""Personal data and secrets: RE2 finds candidates batch-wise, Python validates them.

`pyarrow.compute` scans a whole batch per pattern (RE2), so the Python validation below only
ever sees the few rows that hold a candidate. A kind is counted once per row; the detail
names the kinds found, never the values.

| kind | candidate | validated by |
| --- | --- | --- |
| email | `local@domain.tld` | the domain has a dot and an alphabetic TLD |
| phone number | 10+ digits with separators | `phonenumbers`: a valid number (default region US) |
| payment card | 13-19 digits, spaces or dashes | Luhn checksum and a card network's prefix |
| US SSN | `AAA-GG-SSSS` | area not 000/666/9xx, group not 00, serial not 0000 |
| IP address | dotted quad, full IPv6 | `ipaddress` |
| IBAN | country code, check digits, 11-30 alphanumerics | ISO 13616 mod-97 |
| secret | AWS, GitHub, OpenAI, Slack, Google, Stripe key shapes; PEM private keys | the shape |
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

import phonenumbers
import pyarrow as pa

from gristmill.pipeline.base import Check, CheckOutput, Flag, matching_rows
from gristmill.pipeline.text import TextBatch

EMAIL = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+"
PHONE = r"\+?\(?\d[\d\s().\-]{8,}\d"
CARD = r"\d(?:[ \-]?\d){12,18}"
SSN = r"\d{3}-\d{2}-\d{4}"
IPV4 = r"(?:\d{1,3}\.){3}\d{1,3}"
IPV6 = r"(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}"
IBAN = r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}"
SECRET = (
    r"AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{40,}"
    r"|sk-(?:proj-)?[A-Za-z0-9_\-]{32,}|xox[abprs]-[A-Za-z0-9\-]{10,}|AIza[0-9A-Za-z_\-]{35}"
    r"|sk_live_[0-9A-Za-z]{24,}|-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----"
)

_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|6(?:011|5)|35)")
_SSN_PARTS = re.compile(r"(?<!\d)(\d{3})-(\d{2})-(\d{4})(?!\d)")


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _emails(text: str) -> bool:
    for m in re.finditer(EMAIL, text):
        tld = m.group(0).rsplit(".", 1)[-1]
        if tld.isalpha() and len(tld) >= 2:
            return True
    return False


def _phones(text: str) -> bool:
    for match in phonenumbers.PhoneNumberMatcher(text, "US", leniency=phonenumbers.Leniency.VALID):
        if sum(c.isdigit() for c in match.raw_string) >= 10:
            return True
    return False


def _cards(text: str) -> bool:
    for m in re.finditer(r"(?<![\d\-])" + CARD + r"(?![\d\-])", text):
        digits = re.sub(r"\D", "", m.group(0))
        if 13 <= len(digits) <= 19 and _CARD_PREFIX.match(digits) and luhn_valid(digits):
            return True
    return False


def _ssns(text: str) -> bool:
    for m in _SSN_PARTS.finditer(text):
        area, group, serial = m.groups()
        if area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000":
            return True
    return False


def _ips(text: str) -> bool:
    for pattern in (IPV4, IPV6):
        for m in re.finditer(r"(?<![\w.:])" + pattern + r"(?![\w.:])", text):
            try:
                ipaddress.ip_address(m.group(0))
            except ValueError:
                continue
            return True
    return False


def iban_valid(candidate: str) -> bool:
    code = candidate.replace(" ", "")
    if not 15 <= len(code) <= 34:
        return False
    rearranged = code[4:] + code[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    return int(number) % 97 == 1


def _ibans(text: str) -> bool:
    return any(iban_valid(m.group(0)) for m in re.finditer(r"\b" + IBAN + r"\b", text))


def _secrets(text: str) -> bool:
    return re.search(SECRET, text) is not None


# kind -> (RE2 candidate pattern for the batch scan, Python validation of a candidate row)
KINDS: dict[str, tuple[str, Callable[[str], bool]]] = {
    "email": (EMAIL, _emails),
    "phone number": (PHONE, _phones),
    "payment card": (CARD, _cards),
    "US SSN": (SSN, _ssns),
    "IP address": (f"{IPV4}|{IPV6}", _ips),
    "IBAN": (IBAN, _ibans),
    "secret": (SECRET, _secrets),
}
# Kinds whose presence caps the grade (see services.quality.scoring).
SEVERE = ("payment card", "secret")
# any kind's candidate: one scan of the batch finds the rows the kinds' scans then read
_ANY_KIND = "|".join(f"(?:{pattern})" for pattern, _ in KINDS.values())


class Pii(Check):
    name = "pii"
    describe = "hold personal data"

    def check(self, texts: TextBatch) -> CheckOutput:
        out = CheckOutput(rows_checked=len(texts))
        full = texts.full_texts
        rows = matching_rows(texts.full_text_array, _ANY_KIND)
        candidates = texts.full_text_array.take(pa.array(rows, pa.int64()))
        found: dict[int, list[str]] = {}
        for kind, (pattern, valid) in KINDS.items():
            for i in (rows[j] for j in matching_rows(candidates, pattern)):
                if valid(full[i]):
                    found.setdefault(i, []).append(kind)
        for i in sorted(found):
            kinds = found[i]
            out.flags.append(Flag.of_row(texts, i, "holds " + ", ".join(kinds)))
            out.kinds.update(kinds)
        return out
