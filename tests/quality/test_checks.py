"""Each check flags exactly the rows where its defect was planted, and no clean row.

The pipeline runs for real over a Parquet snapshot written by the code ingest uses; the
clean rows are real, varied text (see corpus.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from gristmill.pipeline.checks import default_checks
from gristmill.pipeline.checks.duplicates import NearDuplicate
from gristmill.pipeline.runners.local import run_local
from gristmill.pipeline.runners.tasks import PipelineOutput
from gristmill.pipeline.text import read_texts
from tests.quality.corpus import clean_rows
from tests.quality.planted import CHECKS, PII, plant, snapshot

TOKEN_LIMIT = 1000


def run(rows: list[dict[str, object]], tmp_path: Path) -> PipelineOutput:
    return run_local(snapshot(rows, tmp_path), default_checks(TOKEN_LIMIT))


def flagged(out: PipelineOutput, check: str) -> set[int]:
    return {f.line for f in out.outputs[check].flags if f.line is not None}


def test_clean_varied_text_flags_nothing(tmp_path: Path) -> None:
    out = run(clean_rows(400), tmp_path)
    assert out.rows == 400
    for name, result in out.outputs.items():
        assert result.flags == [], (name, [(f.line, f.detail) for f in result.flags[:5]])
    assert out.outputs["language_mismatch"].rows_checked > 300  # it did look at them


def test_every_check_flags_exactly_its_planted_rows(tmp_path: Path) -> None:
    counts = {check: 6 for check in CHECKS}
    counts["pii"] = 14  # every kind twice
    rows, planted = plant(400, counts)
    out = run(rows, tmp_path)
    for check in CHECKS:
        assert flagged(out, check) == planted[check], check
    assert out.outputs["identical_preference"].rows_checked == 0  # no preference rows


def test_the_near_duplicate_merge_in_parts_flags_what_one_merge_flags(tmp_path: Path) -> None:
    """The local runner merges the near-duplicate bands in parts, one per process: split
    any way, the parts flag the same rows, naming the same earlier row and estimate, as
    one merge over every band."""
    rows, planted = plant(400, {"near_duplicate": 12, "exact_duplicate": 4})
    check = NearDuplicate()
    pieces = [
        check.sketch(read_texts(batch))
        for batch in pq.ParquetFile(snapshot(rows, tmp_path)).iter_batches(batch_size=100)
    ]
    sketch = {key: np.concatenate([p[key] for p in pieces]) for key in pieces[0]}
    whole = check.merge(sketch)
    assert {f.line for f in whole.flags} == planted["near_duplicate"]
    for parts in (2, 3, 16):
        split = check.combine(sketch, [check.merge_part(sketch, k, parts) for k in range(parts)])
        assert [(f.datapoint_id, f.line, f.detail) for f in split.flags] == [
            (f.datapoint_id, f.line, f.detail) for f in whole.flags
        ], parts


def test_details_name_the_defect_not_the_value(tmp_path: Path) -> None:
    rows, _ = plant(200, {"pii": 7, "exact_duplicate": 2, "near_duplicate": 2})
    out = run(rows, tmp_path)
    pii = out.outputs["pii"]
    assert sorted(pii.kinds) == sorted(kind for kind, _ in PII)
    for flag in pii.flags:
        assert flag.detail.startswith("holds ")
        for _, sentence in PII:
            for token in sentence.split():
                if any(c.isdigit() for c in token) or "@" in token:
                    assert token.strip(".,") not in flag.detail
    for flag in out.outputs["exact_duplicate"].flags:
        assert flag.detail.startswith("same text as line ")
        source = int(flag.detail.rsplit(" ", 1)[1])
        assert flag.line is not None and source < flag.line
    for flag in out.outputs["near_duplicate"].flags:
        assert flag.detail.startswith("resembles line ") and "estimated Jaccard" in flag.detail
        estimate = float(flag.detail.rsplit(" ", 1)[1].rstrip(")"))
        assert estimate >= 0.8
    assert out.outputs["too_long"].flags == []  # none planted here


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("4111 1111 1111 1112 is not a card: its checksum fails.", None),
        ("Order 1234-5678-9012-3456 shipped.", None),
        ("Version 1.2.3 of the tool fixed it.", None),
        ("The SSN 000-12-3456 cannot exist.", None),
        ("Reach me at sam@example.co.uk tonight.", "email"),
        ("Wire it to DE89 3704 0044 0532 0130 00.", "IBAN"),
        ("Token ghp_abcdefghijklmnopqrstuvwxyz0123456789 leaked.", "secret"),
        ("Dial (212) 555-0198 or 212-736-5000.", "phone number"),
    ],
)
def test_pii_validation(text: str, kind: str | None, tmp_path: Path) -> None:
    rows = clean_rows(3)
    rows[1]["messages"][1]["content"] += " " + text
    out = run(rows, tmp_path)
    kinds = dict(out.outputs["pii"].kinds)
    assert kinds == ({kind: 1} if kind else {})


def test_a_row_without_output_has_no_response_to_judge() -> None:
    from gristmill.pipeline.text import row_text

    given = {"messages": [{"role": "user", "content": "Summarise the attached report."}]}
    text = row_text("chat", given, None)
    assert (text.prompt, text.response_field) == ("Summarise the attached report.", None)
    assert row_text("chat", given, [{"role": "assistant", "content": " "}]).response_field


def test_the_english_shortcut_only_skips_what_fasttext_calls_english() -> None:
    """The language check does not ask fastText about a pair that is plainly English on both
    sides: on real text (docstrings of installed libraries, and their questions), every sample
    the shortcut takes is one fastText labels English or cannot tell; a sample that opens in
    French and goes on in English, or holds another script, is left to the model."""
    from gristmill.pipeline.checks.language import MIN_CONFIDENCE, _predict, _Side

    texts = [m["content"] for row in clean_rows(400) for m in row["messages"]]
    side = _Side(texts)
    shortcut = side.plainly_english & side.judged
    taken = [line for line, e in zip(side.lines, shortcut, strict=True) if e]
    assert len(taken) >= len(texts) // 4  # short docstrings hold few of its words
    for line in taken:
        label, confidence = _predict(line)
        assert label == "en" or confidence < MIN_CONFIDENCE, line
    mixed = _Side(
        [
            "Tu es un assistant qui répond en français. I have a question about the refund "
            "that you sent, and what the date would be for this order.",
            "What would the weather be like in 東京 this week, and should I take an umbrella "
            "with me when I go there?",
            "What would the weather be like in Tokyo this week, and should I take an umbrella "
            "with me when I go there?",
        ]
    )
    assert mixed.plainly_english.tolist() == [False, False, True]


def test_language_mismatch_skips_code_answers_by_their_line_ends() -> None:
    """A French request answered with SQL or C-like code (lines ending in `;` or `{`, no
    fence, no `def`) is code, not English; a French request answered in English prose is
    a mismatch."""
    from gristmill.pipeline.checks.language import LanguageMismatch
    from gristmill.pipeline.text import RowText, TextBatch

    prompt = (
        "Peux-tu me donner une requête qui compte les commandes de chaque client pour "
        "l'année dernière, triées de la plus grande à la plus petite ?"
    )
    answers = [
        "SELECT customer_id, COUNT(*) AS orders FROM orders;\nSELECT customer_id, "
        "SUM(total) AS spent FROM orders WHERE year = 2025 GROUP BY customer_id;\n"
        "SELECT name FROM customers ORDER BY name;",
        "for (int i = 0; i < count; i++) {\n  total += orders[i].amount * orders[i].rate;\n"
        "  if (total > limit) {\n    break;\n  }\n}",
        "Here is a query that counts the orders of every customer for last year and sorts "
        "them from the largest number of orders to the smallest one, as you asked.",
    ]
    rows = [RowText(prompt, answer, "assistant message") for answer in answers]
    texts = TextBatch(
        ids=["a", "b", "c"], lines=[1, 2, 3], kinds=["chat"] * 3, rows=rows, outputs=[None] * 3
    )
    out = LanguageMismatch().check(texts)
    assert [f.line for f in out.flags] == [3]
    assert out.rows_checked == 1


def test_language_mismatch_reads_the_user_turn_not_the_system_prompt() -> None:
    """A long English system prompt before a French question answered in French is no
    mismatch; the same question answered in English is one, whatever the system prompt."""
    from gristmill.pipeline.checks.language import LanguageMismatch
    from gristmill.pipeline.text import TextBatch, row_text

    system = (
        "You are the support assistant of an online bookshop. Answer politely and briefly, "
        "never promise a refund that the policy does not allow, and always give the order "
        "number back to the customer so that they can check it against their own records."
    )
    question = (
        "Bonjour, ma commande de trois livres n'est toujours pas arrivée alors que le suivi "
        "indique qu'elle a été livrée mardi dernier. Que dois-je faire maintenant ?"
    )
    answers = [
        "Je suis désolé pour ce retard. Pouvez-vous me donner le numéro de votre commande ? "
        "Je vais demander au transporteur une enquête et vous tenir au courant demain.",
        "I am sorry about the delay. Could you give me the number of your order? I will ask "
        "the carrier to look into it and let you know what they found tomorrow.",
    ]
    given = {
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": question}]
    }
    rows = [row_text("chat", given, [{"role": "assistant", "content": a}]) for a in answers]
    texts = TextBatch(
        ids=["a", "b"], lines=[1, 2], kinds=["chat"] * 2, rows=rows, outputs=[None] * 2
    )
    out = LanguageMismatch().check(texts)
    assert [(f.line, f.detail) for f in out.flags] == [(2, "prompt in fr, response in en")]
    assert out.rows_checked == 2


def test_language_mismatch_honours_a_reply_language_and_reads_short_turns_with_earlier_ones() -> (
    None
):
    """A system prompt that sets the reply language makes a French answer to an English
    question honest; a short last turn ("Ok merci beaucoup !") is read with the user's
    earlier turns, so an English answer to a French conversation is still caught."""
    from gristmill.pipeline.checks.language import LanguageMismatch
    from gristmill.pipeline.text import TextBatch, row_text

    french_answer = (
        "Le délai de livraison habituel est de trois à cinq jours ouvrés. Vous recevrez un "
        "courriel avec le numéro de suivi dès que le colis quittera notre entrepôt."
    )
    english_answer = (
        "You are welcome. If anything else comes up with your order, just write to us and "
        "we will look into it for you straight away."
    )
    set_language = {
        "messages": [
            {
                "role": "system",
                "content": "Tu es l'assistant d'une librairie. Réponds toujours en français.",
            },
            {
                "role": "user",
                "content": "How long does delivery usually take for an order of books?",
            },
        ]
    }
    short_last_turn = {
        "messages": [
            {
                "role": "user",
                "content": "Bonjour, combien de temps faut-il pour recevoir ma commande ?",
            },
            {"role": "assistant", "content": french_answer},
            {"role": "user", "content": "Ok merci beaucoup !"},
        ]
    }
    rows = [
        row_text("chat", set_language, [{"role": "assistant", "content": french_answer}]),
        row_text("chat", short_last_turn, [{"role": "assistant", "content": english_answer}]),
    ]
    texts = TextBatch(
        ids=["a", "b"], lines=[1, 2], kinds=["chat"] * 2, rows=rows, outputs=[None] * 2
    )
    out = LanguageMismatch().check(texts)
    assert [(f.line, f.detail) for f in out.flags] == [(2, "prompt in fr, response in en")]
    assert out.rows_checked == 1  # the row whose prompt names its reply language is skipped
