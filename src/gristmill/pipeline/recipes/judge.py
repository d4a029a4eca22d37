"""A custom evaluation's judge: the user's rubric scores one prompt/response pair, 1 to 10."""

from __future__ import annotations

from dataclasses import dataclass

from gristmill.pipeline.recipes.base import Answer, Ask, Example, Rejected, checked_json

LOW, HIGH = 1.0, 10.0
INSTRUCTION = (
    "Score the response to the prompt by the rubric above, from 1 (worst) to 10 (best). "
    'Reply with a JSON object: {"score": <number>, "reason": "<one sentence>"}.'
)


@dataclass
class Judge:
    rubric: str
    name: str = "judge"

    def ask(self, ex: Example) -> Ask | None:
        user = f"Prompt:\n{ex.request_text()}\n\nResponse:\n{ex.completion or ''}"
        system = f"{self.rubric.strip()}\n\n{INSTRUCTION}"
        return Ask((("system", system), ("user", user)), 200, json=True)

    def score(self, answer: Answer) -> float:
        value = checked_json(answer, ())
        score = value.get("score")
        if isinstance(score, bool) or not isinstance(score, int | float):
            raise Rejected('the judge gave no number under "score"')
        if not LOW <= score <= HIGH:
            raise Rejected(f"the judge's score {score} is outside 1 to 10")
        return float(score)

    def expected_tokens(self, ex: Example) -> int:
        return 40
