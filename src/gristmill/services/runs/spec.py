"""A run's parameters (the Adaption SDK's `DatasetRunParams`), checked once into a `RunSpec`.

Every mistake is a 400 naming the parameter, as the SDK documents its rules: the column
mapping's modes exclude each other, the languages and pairs of a language expansion must be
supported, and a recipe that needs something the hub lacks (a model, a search tool) says
which setting provides it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import phonenumbers

from gristmill.pipeline.recipes.base import Recipe
from gristmill.pipeline.recipes.examples import ColumnMapping
from gristmill.pipeline.recipes.rewrites import (
    LENGTHS,
    SAFETY_CATEGORIES,
    Completion,
    PromptRephrase,
    ReasoningTraces,
    SafetyAnnotation,
    WorseAnswer,
)
from gristmill.pipeline.recipes.translate import LANGUAGES, Translate, language_code
from gristmill.services.errors import InvalidRequest
from gristmill.settings import Settings

TRAINING_TYPES = ("instruction_dataset", "preference_pairs")
# recipes a request leaves out: what the hub does by default
DEFAULT_RECIPES = {"prompt_rephrase": False, "deduplication": True, "reasoning_traces": False}
UNSET: Any = object()  # language_expansion omitted (as opposed to null)


def _object(value: Any, param: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest(f"{param} must be an object.", param=param)
    return value


def _string(value: Any, param: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"{param} must be a non-empty string.", param=param)
    return value


def _flag(value: Any, param: str, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidRequest(f"{param} must be true or false.", param=param)
    return value


@dataclass(frozen=True)
class Expansion:
    type: str  # translate | localize
    targets: tuple[tuple[str, str | None], ...]  # (language, country or None)
    sample_rate: float

    def recipes(self) -> list[Translate]:
        return [Translate(language, country) for language, country in self.targets]


@dataclass(frozen=True)
class RunSpec:
    mapping: ColumnMapping | None
    prompt_rephrase: bool
    deduplication: bool
    reasoning_traces: bool
    training_type: str = "instruction_dataset"
    length: str | None = None
    blueprint: str | None = None
    safety: bool = False
    expansion: Expansion | None = None
    max_rows: int | None = None
    idempotency_key: str | None = None
    model: str | None = None  # "provider/model"; None: the hub's GRISTMILL_RUN_MODEL
    max_cost: float | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def preference(self) -> bool:
        return self.training_type == "preference_pairs"

    def recipes(self) -> list[Recipe]:
        """The model recipes each row goes through, in order (translations come after)."""
        assert self.mapping is not None
        out: list[Recipe] = []
        if self.prompt_rephrase:
            out.append(PromptRephrase())
        no_completion = self.mapping.chat is None and self.mapping.completion is None
        if self.length or self.blueprint or self.preference or no_completion:
            out.append(Completion(length=self.length, blueprint=self.blueprint))
        if self.reasoning_traces:
            out.append(ReasoningTraces())
        if self.preference:
            out.append(WorseAnswer())
        if self.safety:
            out.append(SafetyAnnotation())
        return out

    def needs_model(self) -> bool:
        return bool(self.recipes()) or self.expansion is not None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunSpec:
        mapping = data.get("mapping")
        expansion = data.get("expansion")
        return cls(
            **{
                **data,
                "mapping": ColumnMapping(**{**mapping, "context": tuple(mapping["context"])})
                if mapping
                else None,
                "expansion": Expansion(
                    expansion["type"],
                    tuple((t[0], t[1]) for t in expansion["targets"]),
                    expansion["sample_rate"],
                )
                if expansion
                else None,
            }
        )


def parse_mapping(value: Any) -> ColumnMapping:
    m = _object(value, "column_mapping")
    names = ("prompt", "completion", "chat", "universal_prompt", "image")
    got = {k: _string(m.get(k), f"column_mapping.{k}") for k in names}
    context = m.get("context") or []
    if not isinstance(context, list) or not all(isinstance(c, str) and c for c in context):
        raise InvalidRequest(
            "column_mapping.context must be a list of column names.", param="column_mapping.context"
        )
    if got["image"]:
        raise InvalidRequest(
            "Image columns are not supported: Gristmill adapts text only.",
            param="column_mapping.image",
        )
    if got["chat"]:
        clash = [k for k in ("prompt", "completion", "universal_prompt") if got[k]]
        if context:
            clash.append("context")
        if clash:
            raise InvalidRequest(
                f"Chat mode is exclusive: column_mapping.chat cannot be combined with "
                f"{', '.join(clash)}.",
                param=f"column_mapping.{clash[0]}",
            )
    elif got["universal_prompt"]:
        if got["prompt"]:
            raise InvalidRequest(
                "column_mapping.universal_prompt cannot be combined with column_mapping.prompt.",
                param="column_mapping.universal_prompt",
            )
        if not context:
            raise InvalidRequest(
                "column_mapping.universal_prompt needs at least one column_mapping.context "
                "column, so that rows differ.",
                param="column_mapping.context",
            )
    elif not got["prompt"]:
        raise InvalidRequest(
            "column_mapping needs one of prompt, chat or universal_prompt.",
            param="column_mapping",
        )
    return ColumnMapping(
        prompt=got["prompt"],
        completion=got["completion"],
        chat=got["chat"],
        context=tuple(context),
        universal_prompt=got["universal_prompt"],
    )


def _targets(e: dict[str, Any], kind: str) -> tuple[tuple[str, str | None], ...]:
    if kind == "translate":
        if e.get("pairs") is not None:
            raise InvalidRequest(
                "language_expansion.pairs is for type localize; translate takes languages.",
                param="language_expansion.pairs",
            )
        languages = e.get("languages")
        if not isinstance(languages, list) or not languages:
            raise InvalidRequest(
                "language_expansion.languages must list at least one language for translate.",
                param="language_expansion.languages",
            )
        out: list[tuple[str, str | None]] = []
        for i, given in enumerate(languages):
            code = language_code(given) if isinstance(given, str) else None
            if code is None:
                raise InvalidRequest(
                    f"Unsupported language {given!r}; supported include "
                    f"{', '.join(list(LANGUAGES)[:12])}, ...",
                    param=f"language_expansion.languages[{i}]",
                )
            out.append((code, None))
        return tuple(dict.fromkeys(out))
    if e.get("languages") is not None:
        raise InvalidRequest(
            "language_expansion.languages is for type translate; localize takes pairs.",
            param="language_expansion.languages",
        )
    pairs = e.get("pairs")
    if not isinstance(pairs, list) or not pairs:
        raise InvalidRequest(
            "language_expansion.pairs must list at least one country/language pair for localize.",
            param="language_expansion.pairs",
        )
    found: list[tuple[str, str | None]] = []
    for i, pair in enumerate(pairs):
        where = f"language_expansion.pairs[{i}]"
        pair = _object(pair, where)
        code = language_code(pair["language"]) if isinstance(pair.get("language"), str) else None
        country = pair.get("country")
        if code is None:
            raise InvalidRequest(f"Unsupported language {pair.get('language')!r}.", param=where)
        if not isinstance(country, str) or country.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise InvalidRequest(
                f"Unknown country {country!r}: expected an ISO 3166-1 alpha-2 code.",
                param=f"{where}.country",
            )
        found.append((code, country.upper()))
    return tuple(dict.fromkeys(found))


def parse_expansion(value: Any) -> Expansion:
    e = _object(value, "language_expansion")
    kind = e.get("type")
    if kind not in ("translate", "localize"):
        raise InvalidRequest(
            "language_expansion.type must be translate or localize.",
            param="language_expansion.type",
        )
    rate = e.get("sample_rate")
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0.01 <= rate <= 1:
        raise InvalidRequest(
            "language_expansion.sample_rate must be a number from 0.01 to 1.",
            param="language_expansion.sample_rate",
        )
    return Expansion(kind, _targets(e, kind), float(rate))


def parse_spec(
    body: dict[str, Any], settings: Settings, *, stored_expansion: Any = None
) -> tuple[RunSpec, bool, Any]:
    """(spec, estimate only, the language expansion to store on the dataset)."""
    estimate = _flag(body.get("estimate"), "estimate", False)
    mapping = None
    if body.get("column_mapping") is not None:
        mapping = parse_mapping(body["column_mapping"])
    elif not estimate:
        raise InvalidRequest(
            "column_mapping is required for a run (it is optional only with estimate: true).",
            param="column_mapping",
        )
    recipe_spec = _object(body.get("recipe_specification"), "recipe_specification")
    toggles = _object(recipe_spec.get("recipes"), "recipe_specification.recipes")
    unknown = sorted(set(toggles) - set(DEFAULT_RECIPES))
    if unknown:
        raise InvalidRequest(
            f"Unknown recipe {unknown[0]!r}: expected {', '.join(DEFAULT_RECIPES)}.",
            param=f"recipe_specification.recipes.{unknown[0]}",
        )
    flags = {
        name: _flag(toggles.get(name), f"recipe_specification.recipes.{name}", default)
        for name, default in DEFAULT_RECIPES.items()
    }
    brand = _object(body.get("brand_controls"), "brand_controls")
    length = brand.get("length")
    if length is not None and (not isinstance(length, str) or length not in LENGTHS):
        raise InvalidRequest(
            f"brand_controls.length must be one of {', '.join(LENGTHS)}.",
            param="brand_controls.length",
        )
    categories = brand.get("safety_categories") or []
    if not isinstance(categories, list) or any(c not in SAFETY_CATEGORIES for c in categories):
        raise InvalidRequest(
            f"brand_controls.safety_categories must list some of {', '.join(SAFETY_CATEGORIES)}.",
            param="brand_controls.safety_categories",
        )
    grounding = "brand_controls.hallucination_mitigation"
    if _flag(brand.get("hallucination_mitigation"), grounding, False) and not settings.search_url:
        raise InvalidRequest(
            "hallucination_mitigation needs a web-search tool, and none is configured "
            "(GRISTMILL_SEARCH_URL).",
            param=grounding,
        )
    training_type = body.get("training_type") or "instruction_dataset"
    if training_type not in TRAINING_TYPES:
        raise InvalidRequest(
            f"training_type must be one of {', '.join(TRAINING_TYPES)}.", param="training_type"
        )
    raw_expansion = body.get("language_expansion", UNSET)
    store = stored_expansion if raw_expansion is UNSET else raw_expansion
    expansion = parse_expansion(store) if store is not None else None
    job = _object(body.get("job_specification"), "job_specification")
    max_rows = job.get("max_rows")
    if max_rows is not None and (
        isinstance(max_rows, bool)
        or not isinstance(max_rows, int | float)
        or not math.isfinite(max_rows)
        or max_rows < 1
        or max_rows != int(max_rows)
    ):
        raise InvalidRequest(
            "job_specification.max_rows must be a whole number of at least 1.",
            param="job_specification.max_rows",
        )
    key = _string(job.get("idempotency_key"), "job_specification.idempotency_key")
    if key is not None and len(key) > 200:
        raise InvalidRequest(
            "job_specification.idempotency_key is longer than 200 characters.",
            param="job_specification.idempotency_key",
        )
    max_cost = body.get("max_cost", job.get("max_cost", settings.run_max_cost))
    if max_cost is not None and (
        isinstance(max_cost, bool)
        or not isinstance(max_cost, int | float)
        or not math.isfinite(max_cost)
        or max_cost < 0
    ):
        raise InvalidRequest("max_cost must be a number of USD, 0 or more.", param="max_cost")
    spec = RunSpec(
        mapping=mapping,
        prompt_rephrase=flags["prompt_rephrase"],
        deduplication=flags["deduplication"],
        reasoning_traces=flags["reasoning_traces"],
        training_type=training_type,
        length=length,
        blueprint=_string(brand.get("blueprint"), "brand_controls.blueprint"),
        safety=bool(categories),
        expansion=expansion,
        max_rows=int(max_rows) if max_rows is not None else None,
        idempotency_key=key,
        model=_string(body.get("model"), "model") or settings.run_model,
        max_cost=float(max_cost) if max_cost is not None else None,
    )
    return spec, estimate, store


def model_of(spec: RunSpec, settings: Settings) -> tuple[str, str]:
    """(provider, model) the run calls; a 400 naming the setting when there is none."""
    if not spec.model:
        raise InvalidRequest(
            "These recipes call a model, and no run model is configured: set "
            "GRISTMILL_RUN_MODEL (e.g. openai/gpt-4o-mini) and its provider in "
            "GRISTMILL_UPSTREAMS, or run deterministic recipes only (deduplication).",
            param="recipe_specification",
            code="no_model_configured",
        )
    provider, sep, model = spec.model.partition("/")
    if not sep or not model:
        raise InvalidRequest(
            f"The run model {spec.model!r} must read provider/model, e.g. openai/gpt-4o-mini.",
            param="model",
        )
    if provider not in settings.upstreams:
        raise InvalidRequest(
            f"The run model's provider {provider!r} has no upstream in GRISTMILL_UPSTREAMS.",
            param="model",
            code="no_model_configured",
        )
    return provider, model
