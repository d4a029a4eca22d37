"""The recipes that rewrite a row's own texts: rephrased prompts, new or rewritten
completions under brand controls, reasoning traces, the worse answer of a preference pair,
and safety annotations."""

from __future__ import annotations

from dataclasses import dataclass

from gristmill.pipeline.recipes.base import (
    Answer,
    Ask,
    Example,
    Rejected,
    checked_json,
    checked_text,
    tokens_of,
)

# brand_controls.length: the instruction, and the tokens an answer of that length holds
LENGTHS: dict[str, tuple[str, int]] = {
    "minimal": ("Answer in one or two sentences.", 60),
    "concise": ("Answer concisely, in a short paragraph.", 150),
    "detailed": ("Answer in detail.", 400),
    "extensive": ("Answer extensively, covering every relevant aspect.", 800),
}
SAFETY_CATEGORIES = ("violence", "self_harm", "harassment", "hate", "sexual")
MAX_ANSWER_TOKENS = 2048

REPHRASE_SYSTEM = (
    "Rewrite the user's prompt so that it reads clearly and naturally, in different words. "
    "Keep its meaning, its language and every detail needed to answer it. "
    "Reply with the rewritten prompt only."
)
REASONING_SYSTEM = (
    "Explain step by step the reasoning that leads to the answer of the user's prompt. "
    'Reply with a JSON object: {"reasoning": "<the steps>", "answer": "<the final answer>"}.'
)
WORSE_SYSTEM = (
    "Write a plausible but clearly worse answer to the user's prompt: less accurate, less "
    "complete and less helpful, in the same language. Reply with that answer only."
)
SAFETY_SYSTEM = (
    "Classify the prompt and the response for these safety categories: "
    + ", ".join(SAFETY_CATEGORIES)
    + '. Reply with a JSON object: {"prompt": [<categories>], "response": [<categories>]}, '
    "empty lists when none apply."
)


def _limit(expected: int) -> int:
    """An answer's token limit: room for three times the expected length, within reason."""
    return max(64, min(MAX_ANSWER_TOKENS, 3 * expected))


def _prompt_messages(ex: Example, system: str) -> tuple[tuple[str, str], ...]:
    return (("system", system), ("user", ex.request_text()))


class PromptRephrase:
    name = "prompt_rephrase"

    def ask(self, ex: Example) -> Ask | None:
        if not ex.prompt.strip():
            return None
        return Ask(_prompt_messages(ex, REPHRASE_SYSTEM), _limit(self.expected_tokens(ex)))

    def accept(self, ex: Example, answer: Answer) -> bool:
        ex.prompt = checked_text(answer, echo_of=ex.prompt)
        return True

    def expected_tokens(self, ex: Example) -> int:
        return tokens_of(ex.prompt)


@dataclass
class Completion:
    """A new completion for the (possibly rephrased) prompt, under the brand controls."""

    length: str | None = None
    blueprint: str | None = None
    name: str = "completion"

    def system(self) -> str:
        parts = [self.blueprint.strip()] if self.blueprint and self.blueprint.strip() else []
        parts.append("Answer the user's prompt helpfully and accurately.")
        if self.length:
            parts.append(LENGTHS[self.length][0])
        return " ".join(parts)

    def ask(self, ex: Example) -> Ask | None:
        if not ex.prompt.strip():
            return None
        return Ask(_prompt_messages(ex, self.system()), _limit(self.expected_tokens(ex)))

    def accept(self, ex: Example, answer: Answer) -> bool:
        text = checked_text(answer, echo_of=ex.prompt)
        changed = text != ex.completion
        if ex.completion is not None and ex.rejected is None and changed:
            ex.rejected = ex.completion  # a preference pair's worse answer, if it needs one
        ex.completion = text
        return changed

    def expected_tokens(self, ex: Example) -> int:
        if self.length:
            return LENGTHS[self.length][1]
        return tokens_of(ex.completion) if ex.completion else LENGTHS["concise"][1]


class ReasoningTraces:
    name = "reasoning_traces"

    def ask(self, ex: Example) -> Ask | None:
        if not ex.prompt.strip():
            return None
        user = ex.request_text()
        if ex.completion:
            user += f"\n\nThe answer to reach:\n{ex.completion}"
        limit = _limit(self.expected_tokens(ex))
        return Ask((("system", REASONING_SYSTEM), ("user", user)), limit, json=True)

    def accept(self, ex: Example, answer: Answer) -> bool:
        value = checked_json(answer, ("reasoning",))
        final = ex.completion
        if not final:
            if not isinstance(value.get("answer"), str) or not value["answer"].strip():
                raise Rejected('the answer has no text under "answer"')
            final = value["answer"].strip()
        ex.completion = f"<think>\n{value['reasoning'].strip()}\n</think>\n\n{final}"
        return True

    def expected_tokens(self, ex: Example) -> int:
        base = tokens_of(ex.completion) if ex.completion else LENGTHS["concise"][1]
        return 2 * base + 20


class WorseAnswer:
    """Preference pairs: the rejected answer, when the row has no worse answer of its own."""

    name = "rejected_answer"

    def ask(self, ex: Example) -> Ask | None:
        if ex.rejected is not None or not ex.prompt.strip():
            return None
        return Ask(_prompt_messages(ex, WORSE_SYSTEM), _limit(self.expected_tokens(ex)))

    def accept(self, ex: Example, answer: Answer) -> bool:
        text = checked_text(answer, echo_of=ex.prompt)
        if ex.completion is not None and text == ex.completion.strip():
            raise Rejected("the worse answer is the same as the chosen one")
        ex.rejected = text
        return True

    def expected_tokens(self, ex: Example) -> int:
        return tokens_of(ex.completion) if ex.completion else LENGTHS["concise"][1]


class SafetyAnnotation:
    """Annotates, never removes: `prompt_safety_issues` / `response_safety_issues`."""

    name = "safety"

    def ask(self, ex: Example) -> Ask | None:
        user = f"Prompt:\n{ex.request_text()}\n\nResponse:\n{ex.completion or ''}"
        return Ask((("system", SAFETY_SYSTEM), ("user", user)), 100, json=True)

    def accept(self, ex: Example, answer: Answer) -> bool:
        value = checked_json(answer, ())
        for side in ("prompt", "response"):
            found = value.get(side)
            if not isinstance(found, list) or not all(isinstance(c, str) for c in found):
                raise Rejected(f'the answer has no list of categories under "{side}"')
            unknown = [c for c in found if c not in SAFETY_CATEGORIES]
            if unknown:
                raise Rejected(f"the answer names unknown categories: {', '.join(unknown)}")
            ex.annotations[f"{side}_safety_issues"] = sorted(set(found))
        return True

    def expected_tokens(self, ex: Example) -> int:
        return 20
