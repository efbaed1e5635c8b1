"""The probe's reference data: the protocol and results of Deng, Pardo & Pappas's code release.

"Do joint language–audio embeddings encode perceptual timbre semantics?" — their code release (MIT
License, © 2026 Timbre Semantics contributors; ``probe/data/LICENSE``) publishes experiment 2's
protocol (``experiment2_config.json``) and the results of four models (LAION-CLAP, MSCLAP, MuQ-MuLan,
OpenFLAM). ``scripts/sync_data.py`` copies the files unchanged into ``timbrelab/probe/data/`` with a
``PROVENANCE.json`` (source, licence, citation, SHA-256 of each file); they are read here through
``importlib.resources``, never from ``../shared``.

What is converted, so every rate reads the same everywhere in timbrelab:

- ``experiment2_effects.csv`` gives its three rates in **percent** (61.67 …); they become fractions
  0–1 (0.6167 …). Its correlations and mean slope / final Δ are kept as they are.
- ``experiment2_summary.csv`` (both effects pooled; already fractions) becomes the ``"all"`` scope.
- The release spells a model two ways (``MuQ-MuLan`` in experiment 2, ``MuQ_MuLan`` in experiment 1):
  :data:`MODEL_NAMES` maps both onto the experiment-2 spelling.

Rates (``positive_slope_rate``, ``positive_final_delta_rate``, ``all_source_consistency_rate``) are
fractions 0–1; ``mean_pearson_r`` and ``mean_spearman_rho`` are correlations, −1 … 1.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from importlib import resources

#: the five figures experiment 2 reports per model and scope, in the release's column order
SUMMARY_KEYS = ("positive_slope_rate", "positive_final_delta_rate", "all_source_consistency_rate", "mean_pearson_r", "mean_spearman_rho")
RATE_KEYS = ("positive_slope_rate", "positive_final_delta_rate", "all_source_consistency_rate")
#: the release's models, in its order
REFERENCE_MODELS = ("LAION-CLAP", "MSCLAP", "MuQ-MuLan", "OpenFLAM")
MODEL_NAMES = {"LAION_CLAP": "LAION-CLAP", "MuQ_MuLan": "MuQ-MuLan", "MSCLAP": "MSCLAP", "OpenFLAM": "OpenFLAM"}
EFFECTS = ("eq", "reverb")
#: the summary CSV's column headings → our keys
_SUMMARY_COLUMNS = {
    "Pos. slope rate ↑": "positive_slope_rate", "Pos. final-Δ rate ↑": "positive_final_delta_rate",
    "All-source consistency ↑": "all_source_consistency_rate", "Mean Pearson r ↑": "mean_pearson_r", "Mean Spearman ρ ↑": "mean_spearman_rho",
}
CITATION = ("Deng, Pardo & Pappas, \"Do joint language–audio embeddings encode perceptual timbre semantics?\", "
            "code release (MIT License, © 2026 Timbre Semantics contributors)")


def _text(name: str) -> str:
    return resources.files("timbrelab.probe").joinpath("data", name).read_text(encoding="utf-8")


def _rows(name: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(_text(name))))


@dataclass(frozen=True)
class Experiment2Config:
    """Experiment 2's protocol.

    ``descriptors``: effect (``"eq"``, ``"reverb"``) → its words, in the release's order;
    ``strengths``: the effect amounts, ascending (0.2 … 1.0); ``sources``: the source names
    (guitar, piano, mixture); ``prompt_template``: the release's wording of the text prompt.
    """

    descriptors: dict[str, tuple[str, ...]]
    strengths: tuple[float, ...]
    sources: tuple[str, ...]
    prompt_template: str

    def prompt(self, word: str) -> str:
        """The text prompt for a word: "a <word> sound", with "an" before a vowel ("an echo sound")."""
        return prompt_for(word)

    def to_dict(self) -> dict:
        return {"descriptors": {k: list(v) for k, v in self.descriptors.items()}, "strengths": list(self.strengths),
                "sources": list(self.sources), "prompt_template": self.prompt_template}


def prompt_for(word: str) -> str:
    """"a <word> sound"; the release writes "an echo sound", so a word starting with a vowel takes "an"."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word} sound"


def experiment2_config() -> Experiment2Config:
    """The release's experiment-2 protocol (``experiment2_config.json``)."""
    raw = json.loads(_text("experiment2_config.json"))
    return Experiment2Config(
        descriptors={effect: tuple(words) for effect, words in raw["descriptors"].items()},
        strengths=tuple(float(s) for s in sorted(raw["scales"])),
        sources=tuple(raw["sources"]),
        prompt_template=raw["text_template"],
    )


def experiment2_reference() -> dict[str, dict[str, dict[str, float]]]:
    """The release's experiment-2 results: model → scope (``eq``, ``reverb``, ``all``) → figures.

    ``eq`` / ``reverb`` (from ``experiment2_effects.csv``): the five :data:`SUMMARY_KEYS` plus
    ``mean_slope`` and ``mean_final_delta``, rates converted from percent to fractions 0–1.
    ``all`` (from ``experiment2_summary.csv``): the five keys as the release rounded them (4 decimals).

    >>> round(experiment2_reference()["MuQ-MuLan"]["reverb"]["positive_slope_rate"], 4)
    0.8833
    """
    out: dict[str, dict[str, dict[str, float]]] = {m: {} for m in REFERENCE_MODELS}
    for row in _rows("experiment2_effects.csv"):
        model = MODEL_NAMES.get(row["model"], row["model"])
        figures = {k: float(row[k]) / 100.0 if k in RATE_KEYS else float(row[k])
                   for k in (*SUMMARY_KEYS, "mean_slope", "mean_final_delta")}
        out.setdefault(model, {})[row["effect_type"]] = figures
    for row in _rows("experiment2_summary.csv"):
        model = MODEL_NAMES.get(row["Model"], row["Model"])
        out.setdefault(model, {})["all"] = {key: float(row[col]) for col, key in _SUMMARY_COLUMNS.items()}
    return out


def experiment1_reference() -> list[dict]:
    """The release's experiment-1 table: ``{"model", "descriptor", "pearson", "spearman"}`` per row
    (16 descriptors × 4 models; model names in the experiment-2 spelling)."""
    return [{"model": MODEL_NAMES.get(r["model"], r["model"]), "descriptor": r["descriptor"],
             "pearson": float(r["pearson"]), "spearman": float(r["spearman"])} for r in _rows("experiment1_descriptors.csv")]


def provenance() -> dict:
    """``probe/data/PROVENANCE.json``: where each reference file came from, its licence and SHA-256."""
    return json.loads(_text("PROVENANCE.json"))
