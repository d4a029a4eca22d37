"""From check outputs to a score (0-10), a letter (A-E) and a sentence per point lost.

Each check has a threshold t, the defect rate at which its sub-score reaches 0, and a weight
w. A check with defect rate r (flagged rows / rows it applies to) scores 10 * (1 - min(1,
r / t)); the mean is the weighted mean over the checks that applied to any row. Two caps:

- defective rows: the score is at most 10 * (1 - min(1, f / 0.5)), f being the share of
  rows with at least one defect of any kind (rejected rows included): a dataset half made
  of bad rows scores 0, however the defects spread over the checks;
- severe personal data: any validated payment card number or secret key caps the letter
  at C (the score is left as computed).

Letters: A >= 9, B >= 7.5, C >= 6, D >= 4, E below. Every term above only falls as a defect
rate rises, so the score never rises with one (tests/quality checks that).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from gristmill.pipeline.base import CheckOutput, Flag
from gristmill.pipeline.checks.pii import SEVERE


@dataclass(frozen=True)
class Rule:
    threshold: float
    weight: float


RULES: dict[str, Rule] = {
    "format": Rule(0.10, 2.0),
    "exact_duplicate": Rule(0.10, 2.0),
    "near_duplicate": Rule(0.20, 1.0),
    "pii": Rule(0.02, 2.0),
    "too_long": Rule(0.05, 1.0),
    "empty_response": Rule(0.05, 2.0),
    "refusal": Rule(0.10, 1.5),
    "repetition": Rule(0.10, 1.0),
    "language_mismatch": Rule(0.10, 1.0),
    "mojibake": Rule(0.05, 0.5),
    "identical_preference": Rule(0.05, 1.0),
}
DEFECTIVE_ROWS_ZERO = 0.5  # share of defective rows at which the score reaches 0
GRADES = (("A", 9.0), ("B", 7.5), ("C", 6.0), ("D", 4.0))
SEVERE_CAP = "C"
EXAMPLES = 5
MINUS = "\u2212"  # the report's sentences read "-0.6" with a true minus sign


def letter(score: float) -> str:
    return next((g for g, floor in GRADES if score >= floor), "E")


def sub_score(rate: float, threshold: float) -> float:
    return 10.0 * (1.0 - min(1.0, rate / threshold))


def _plural(kind: str, n: int) -> str:
    if n == 1:
        return kind
    if kind.endswith(("s", "x", "ch", "sh")):
        return kind + "es"
    return kind + "s"


def _percent(rate: float) -> str:
    pct = rate * 100
    return f"{pct:.1f} %" if pct < 10 else f"{pct:.0f} %"


def reason(check: str, describe: str, out: CheckOutput, points_lost: float) -> str:
    flagged, rows = len(out.flags), out.rows_checked
    rate = flagged / rows if rows else 0.0
    sentence = f"{flagged:,} of {rows:,} rows ({_percent(rate)}) {describe}"
    if check == "pii" and out.kinds:
        parts = [f"{n:,} {_plural(kind, n)}" for kind, n in out.kinds.most_common()]
        sentence += f" ({', '.join(parts)})"
    return f"{sentence}: {MINUS}{points_lost:.1f}"


def _example(flag: Flag) -> dict[str, Any]:
    return {"line": flag.line, "datapoint_id": flag.datapoint_id, "detail": flag.detail}


@dataclass
class Scored:
    score: float
    grade: str
    checks: list[dict[str, Any]]
    caps: list[dict[str, Any]]
    defective_rows: int


def score(
    outputs: dict[str, CheckOutput],
    describe: dict[str, str],
    params: dict[str, dict[str, Any]],
    total_rows: int,
) -> Scored:
    """`outputs` by check name (the `format` check included), over `total_rows` rows."""
    applied = {name: out for name, out in outputs.items() if out.rows_checked > 0}
    weights = sum(RULES[name].weight for name in applied)
    mean = 10.0
    subs: dict[str, float] = {}
    for name, out in applied.items():
        subs[name] = sub_score(len(out.flags) / out.rows_checked, RULES[name].threshold)
    if weights:
        mean = sum(RULES[n].weight * subs[n] for n in applied) / weights
    checks: list[dict[str, Any]] = []
    for name, out in outputs.items():
        rule = RULES[name]
        rate = len(out.flags) / out.rows_checked if out.rows_checked else 0.0
        lost = rule.weight * (10.0 - subs[name]) / weights if name in applied else 0.0
        checks.append(
            {
                "check": name,
                "rows_checked": out.rows_checked,
                "flagged": len(out.flags),
                "rate": round(rate, 6),
                "threshold": rule.threshold,
                "weight": rule.weight,
                "score": round(subs.get(name, 10.0), 2),
                "points_lost": round(lost, 2),
                "reason": reason(name, describe[name], out, lost),
                "kinds": dict(out.kinds.most_common()),
                "params": params.get(name, {}),
                "examples": [_example(f) for f in out.flags[:EXAMPLES]],
            }
        )
    checks.sort(key=lambda c: (-c["points_lost"], -c["rate"], c["check"]))
    defective = len({f.datapoint_id or f"line {f.line}" for o in outputs.values() for f in o.flags})
    share = defective / total_rows if total_rows else 0.0
    limit = sub_score(share, DEFECTIVE_ROWS_ZERO)
    caps: list[dict[str, Any]] = []
    final = mean
    if limit < mean:
        final = limit
        caps.append(
            {
                "cap": "defective_rows",
                "limit": round(limit, 2),
                "points_lost": round(mean - limit, 2),
                "reason": (
                    f"{defective:,} of {total_rows:,} rows ({_percent(share)}) have at least "
                    f"one defect, which caps the score at {limit:.1f}: {MINUS}{mean - limit:.1f}"
                ),
            }
        )
    grade = letter(final)
    severe: Counter[str] = Counter(
        {k: n for k, n in outputs.get("pii", CheckOutput()).kinds.items() if k in SEVERE}
    )
    if severe and grade < SEVERE_CAP:
        found = ", ".join(f"{n:,} {_plural(k, n)}" for k, n in severe.items())
        caps.append(
            {
                "cap": "severe_personal_data",
                "limit": SEVERE_CAP,
                "points_lost": 0.0,
                "reason": f"The data holds {found}: the grade is at most {SEVERE_CAP}.",
            }
        )
        grade = SEVERE_CAP
    return Scored(round(final, 2), grade, checks, caps, defective)
