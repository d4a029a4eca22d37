"""The score only falls as defects rise, and grades tell clean data from bad data."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from gristmill.pipeline.base import CheckOutput, Flag
from gristmill.pipeline.checks import default_checks
from gristmill.pipeline.runners.local import run_local
from gristmill.services.quality.scoring import RULES, letter, score
from tests.quality.planted import CHECKS, plant, snapshot

DESCRIBE = {name: "are defective" for name in RULES}


def outputs_with(flagged: dict[str, int], rows: int) -> dict[str, CheckOutput]:
    """Check outputs over `rows` rows, check c flagging rows 0..flagged[c]-1 of its own."""
    out = {}
    for offset, name in enumerate(RULES):
        n = flagged.get(name, 0)
        flags = [Flag(f"dp-{(offset * 7 + i) % rows}", i + 1, "x") for i in range(n)]
        out[name] = CheckOutput(rows_checked=rows, flags=flags)
    return out


def scored(flagged: dict[str, int], rows: int = 1000) -> float:
    return score(outputs_with(flagged, rows), DESCRIBE, {}, rows).score


def test_score_never_rises_when_a_defect_rate_rises() -> None:
    rng = random.Random(7)
    for _ in range(300):
        flagged = {name: rng.randrange(0, 120) for name in RULES if rng.random() < 0.6}
        before = scored(flagged)
        name = rng.choice(list(RULES))
        worse = {**flagged, name: flagged.get(name, 0) + rng.randrange(1, 80)}
        assert scored(worse) <= before, (flagged, name)


def test_clean_is_ten_and_reasons_add_up() -> None:
    result = score(outputs_with({}, 500), DESCRIBE, {}, 500)
    assert (result.score, result.grade, result.caps) == (10.0, "A", [])
    hurt = score(outputs_with({"pii": 7, "refusal": 20}, 500), DESCRIBE, {}, 500)
    lost = sum(c["points_lost"] for c in hurt.checks)
    assert hurt.score == pytest.approx(10 - lost, abs=0.05)
    assert [c["check"] for c in hurt.checks[:2]] == ["pii", "refusal"]  # by points lost
    assert hurt.checks[0]["reason"].startswith("7 of 500 rows (1.4 %) are defective: \u2212")


def test_letters() -> None:
    assert [letter(s) for s in (10, 9, 8.9, 7.5, 7.4, 6, 5.9, 4, 3.9, 0)] == list("AABBCCDDEE")


def test_a_payment_card_caps_the_grade_at_c() -> None:
    outputs = outputs_with({}, 1000)
    outputs["pii"].flags.append(Flag("dp-1", 2, "holds payment card"))
    outputs["pii"].kinds["payment card"] += 1
    result = score(outputs, DESCRIBE, {}, 1000)
    assert result.score >= 9 and result.grade == "C"
    assert [c["cap"] for c in result.caps] == ["severe_personal_data"]


def test_grades_fall_as_planted_defects_rise(tmp_path: Path) -> None:
    grades, scores = [], []
    for i, rate in enumerate((0.0, 0.05, 0.15, 0.30, 0.50)):
        n = 300
        per_check = round(n * rate / len(CHECKS))
        rows, _ = plant(n, {c: per_check for c in CHECKS})
        workdir = tmp_path / str(i)
        workdir.mkdir()
        checks = default_checks(1000)
        out = run_local(snapshot(rows, workdir), checks)
        describe = {c.name: c.describe for c in checks}
        result = score(out.outputs, describe, {}, out.rows)
        grades.append(result.grade)
        scores.append(result.score)
    assert scores == sorted(scores, reverse=True), scores
    assert grades[0] in "AB" and grades[3] in "DE" and grades[4] == "E", (grades, scores)
