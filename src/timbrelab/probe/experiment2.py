"""Experiment 2 of the timbre-semantics probe, as Deng, Pardo & Pappas's code release does it.

Does an embedder's audio embedding move towards the text "a <word> sound" when the word's effect is
applied more strongly? For each effect (``eq``, ``reverb``), each of its 20 words and each strength
of ``experiment2_config.json`` (0.2 … 1.0), timbrelab's own Audealize effect is applied to each source:

- EQ words: ``fx.plan_effects(eq_words=[word], eq_amount=strength, reverb_amount=0)`` — the crowd
  curve of the 40-band graphic EQ, scaled by the strength;
- reverb words: ``fx.plan_effects(reverb_words=[word], reverb_amount=strength)`` — the Rafii–Pardo
  reverberator with the word's settings, wet/dry = strength.

A word a crowd map lacks (or whose EQ curve rests on too few ratings) is played by the word → effect
models through fx's fallback; each row records which (``resolution``: ``"map"`` or ``"model"``). With
the shipped maps all 40 probe words are map words.

Then Δ(s) = cos(embed_audio(processed_s), embed_text(prompt)) − cos(embed_audio(original), embed_text(prompt)),
with the prompt "a <word> sound" ("an echo sound"). Per source/effect/word, over the strengths:
``slope`` (least squares of Δ on strength), ``pearson_r`` and ``spearman_rho`` (scipy) and
``final_delta`` (Δ at the largest strength). When Δ is the same at every strength a correlation is
undefined (NaN): it counts as 0, the row says ``constant: true`` and the summary counts such rows.

Per effect and over both (``all``, pooled over every row, which equals the mean of the two effects
when they have as many words — as in the release):

- ``positive_slope_rate``: fraction of rows with slope > 0;
- ``positive_final_delta_rate``: fraction with final Δ > 0;
- ``all_source_consistency_rate``: fraction of (effect, word) pairs whose slope is > 0 in every source;
- ``mean_pearson_r``, ``mean_spearman_rho``: means over rows (correlations, −1 … 1; the rates are 0–1).

The per-descriptor table (the poster's ↑ / – / ↓), rule :func:`descriptor_direction`: ↑ when the
slope is positive in a majority of the sources (2 of 3) and the mean final Δ over the sources is > 0;
↓ when it is negative in a majority and the mean final Δ < 0; – otherwise.

Sources (:func:`default_sources`), the first :data:`DEFAULT_EXCERPT_S` seconds of each, so the 600
processed clips of a run take about half a minute of DSP on one core:

- ``guitar``: the bundled CC0 clip (``timbrelab/examples/guitar_em9.flac``, sonic-pi-samples'
  ``guit_em9.flac``), 44.1 kHz stereo;
- ``piano``: a real piano recording from the Debian catalogue (``sounds/data/real_recordings.json``):
  lmms-common's ``piano02.ogg`` (10 s, 44.1 kHz mono, GPL-2+) when installed, else the next in
  :data:`PIANO_PREFERENCE`, else any piano the catalogue lists; none installed →
  MissingComponentError naming the packages;
- ``mixture``: guitar + piano excerpts (the mono piano on both channels), trimmed to the shorter,
  peak-normalised to :data:`MIXTURE_PEAK_DBFS`.

The originals are used as recorded (no level change). Processing keeps the length (``tail_s=0``: the
reverb's ring-out past the excerpt's end is not added, so the processed and original clips span the
same time); fx's clip guard may scale a boosted clip down by one constant gain.

Each processed clip is made once per run and handed to every embedder of the run, then dropped (no
disk cache, memory bounded by one clip), so comparing several embedders costs the DSP once.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from timbrelab.errors import BadParameterError, MissingComponentError
from timbrelab.probe.embedders import Embedder, check_embedding, cosine, load_embedder
from timbrelab.probe.reference import EFFECTS, SUMMARY_KEYS, Experiment2Config, experiment2_config, prompt_for

DEFAULT_EXCERPT_S = 5.0
MIXTURE_PEAK_DBFS = -6.0
#: the bundled guitar (the same file as :func:`timbrelab.demo.example_path`)
GUITAR_FILE = "guitar_em9.flac"
#: real piano recordings of the Debian catalogue, best first: long enough for a 5 s excerpt first
PIANO_PREFERENCE = ("piano02.ogg", "ambi_piano.flac", "piano01.ogg")
DIRECTION_RULE = ("↑ if the slope is > 0 in a majority of the sources (2 of 3) and the mean final Δ over the sources > 0; "
                  "↓ if < 0 in a majority and the mean final Δ < 0; – otherwise")
#: keys every per-effect summary has beyond the five of the release
DETAIL_KEYS = ("mean_slope", "mean_final_delta", "cases", "descriptors", "constant_cases")


@dataclass(frozen=True)
class Source:
    """One source of experiment 2: float32 ``(channels, samples)`` audio at ``sample_rate`` Hz, and what it is."""

    name: str
    audio: np.ndarray
    sample_rate: int
    origin: str
    licence: str

    def to_dict(self) -> dict:
        return {"name": self.name, "origin": self.origin, "licence": self.licence, "sample_rate": self.sample_rate,
                "channels": int(self.audio.shape[0]), "duration_s": round(self.audio.shape[1] / self.sample_rate, 3)}


def _excerpt(audio: np.ndarray, sample_rate: int, excerpt_s: float | None) -> np.ndarray:
    if excerpt_s is None:
        return audio
    if not (excerpt_s > 0):
        raise BadParameterError(f"excerpt length {excerpt_s!r} s must be positive")
    return np.ascontiguousarray(audio[:, : max(1, int(round(excerpt_s * sample_rate)))])


def guitar_source(excerpt_s: float | None = DEFAULT_EXCERPT_S) -> Source:
    """The bundled CC0 electric guitar (``examples/guitar_em9.flac``), its first ``excerpt_s`` seconds."""
    from timbrelab.audio import read_audio

    path = Path(str(resources.files("timbrelab").joinpath("examples", GUITAR_FILE)))
    x, sr = read_audio(path)
    return Source("guitar", _excerpt(x, sr, excerpt_s), sr,
                  f"timbrelab/examples/{GUITAR_FILE} (sonic-pi-samples guit_em9.flac, bundled)", "CC0 1.0")


def find_piano() -> tuple[Path, str, str]:
    """The real piano recording to use: ``(path, package, licence)`` from the Debian catalogue."""
    from timbrelab.sounds.recordings import recordings

    pianos = [r for r in recordings() if r.instrument == "piano"]
    if not pianos:
        raise MissingComponentError(
            "experiment 2 needs a real piano recording: install the Debian package lmms-common or sonic-pi-samples (or pass a piano file)"
        )
    rank = {name: i for i, name in enumerate(PIANO_PREFERENCE)}
    best = min(pianos, key=lambda r: (rank.get(r.path.name, len(rank)), str(r.path)))
    return best.path, best.package, best.licence


def piano_source(excerpt_s: float | None = DEFAULT_EXCERPT_S, path=None) -> Source:
    """A real piano recording (see :func:`find_piano`; or the file ``path``), its first ``excerpt_s`` seconds."""
    from timbrelab.audio import read_audio

    if path is None:
        path, package, licence = find_piano()
        origin = f"{path.name} from the Debian package {package}"
    else:
        path, licence = Path(path), "as the file's own"
        origin = f"{path.name} (given by the user)"
    x, sr = read_audio(path)
    return Source("piano", _excerpt(x, sr, excerpt_s), sr, origin, licence)


def mixture_source(a: Source, b: Source, peak_dbfs: float = MIXTURE_PEAK_DBFS) -> Source:
    """``a + b`` (mono broadcast to the other's channels, ``b`` resampled to ``a``'s rate), trimmed to
    the shorter and peak-normalised to ``peak_dbfs``."""
    from timbrelab.audio import resample

    xb = b.audio if b.sample_rate == a.sample_rate else resample(b.audio, b.sample_rate, a.sample_rate)
    channels = max(a.audio.shape[0], xb.shape[0])
    n = min(a.audio.shape[1], xb.shape[1])
    mix = np.broadcast_to(a.audio[:, :n], (channels, n)) + np.broadcast_to(xb[:, :n], (channels, n))
    peak = float(np.max(np.abs(mix)))
    if peak > 0:
        mix = mix * (10 ** (peak_dbfs / 20) / peak)
    return Source("mixture", np.ascontiguousarray(mix, dtype=np.float32), a.sample_rate,
                  f"{a.name} + {b.name} (sum, trimmed to the shorter, peak {peak_dbfs:g} dBFS)", f"{a.licence}; {b.licence}")


def default_sources(excerpt_s: float | None = DEFAULT_EXCERPT_S, piano_path=None) -> list[Source]:
    """guitar, piano and their mixture (see the module docstring for the files)."""
    guitar = guitar_source(excerpt_s)
    piano = piano_source(excerpt_s, piano_path)
    return [guitar, piano, mixture_source(guitar, piano)]


# --- statistics ---------------------------------------------------------------------------------

def trend(strengths: Sequence[float], deltas: Sequence[float]) -> dict:
    """Slope (least squares), Pearson r and Spearman ρ of Δ over strengths, and the final Δ.

    A constant Δ (or fewer than 3 strengths) has no correlation: r = ρ = 0 and ``constant`` is True.
    """
    from scipy import stats

    s, d = np.asarray(strengths, dtype=np.float64), np.asarray(deltas, dtype=np.float64)
    if s.shape != d.shape or s.size < 2:
        raise BadParameterError("a trend needs one Δ per strength and at least two strengths")
    sc = s - s.mean()
    slope = float(np.dot(sc, d - d.mean()) / np.dot(sc, sc))
    constant = bool(np.ptp(d) == 0.0 or s.size < 3)
    r = rho = 0.0
    if not constant:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = float(stats.pearsonr(s, d)[0])
            rho = float(stats.spearmanr(s, d)[0])
        r, rho = (0.0 if not np.isfinite(r) else r), (0.0 if not np.isfinite(rho) else rho)
    return {"slope": slope, "pearson_r": r, "spearman_rho": rho, "final_delta": float(d[int(np.argmax(s))]), "constant": constant}


def summarise(rows: list[dict]) -> dict:
    """The five figures (and :data:`DETAIL_KEYS`) over ``rows`` (per-source/effect/word rows of one embedder)."""
    if not rows:
        raise BadParameterError("nothing to summarise: no words were probed")
    slopes = np.array([r["slope"] for r in rows])
    finals = np.array([r["final_delta"] for r in rows])
    groups: dict[tuple, list[float]] = {}
    for r in rows:
        groups.setdefault((r["effect"], r["word"]), []).append(r["slope"])
    n_sources = max(len(v) for v in groups.values())
    consistent = [len(v) == n_sources and all(x > 0 for x in v) for v in groups.values()]
    return {
        "positive_slope_rate": float(np.mean(slopes > 0)),
        "positive_final_delta_rate": float(np.mean(finals > 0)),
        "all_source_consistency_rate": float(np.mean(consistent)),
        "mean_pearson_r": float(np.mean([r["pearson_r"] for r in rows])),
        "mean_spearman_rho": float(np.mean([r["spearman_rho"] for r in rows])),
        "mean_slope": float(slopes.mean()),
        "mean_final_delta": float(finals.mean()),
        "cases": len(rows),
        "descriptors": len(groups),
        "constant_cases": int(sum(r["constant"] for r in rows)),
    }


def descriptor_direction(slopes: Sequence[float], final_deltas: Sequence[float]) -> str:
    """The descriptor's direction by :data:`DIRECTION_RULE` (majority = more than half of the sources)."""
    majority = len(slopes) // 2 + 1
    mean_final = float(np.mean(final_deltas))
    if sum(s > 0 for s in slopes) >= majority and mean_final > 0:
        return "↑"
    if sum(s < 0 for s in slopes) >= majority and mean_final < 0:
        return "↓"
    return "–"


def descriptor_table(rows: list[dict]) -> list[dict]:
    """One row per (effect, word) of one embedder: slopes > 0 out of sources, mean final Δ, the direction."""
    out: dict[tuple, dict] = {}
    for r in rows:
        d = out.setdefault((r["effect"], r["word"]), {"effect": r["effect"], "word": r["word"], "resolution": r["resolution"],
                                                      "slopes": [], "final_deltas": []})
        d["slopes"].append(r["slope"])
        d["final_deltas"].append(r["final_delta"])
    table = []
    for d in out.values():
        table.append({"effect": d["effect"], "word": d["word"], "resolution": d["resolution"],
                      "positive_slopes": int(sum(s > 0 for s in d["slopes"])), "sources": len(d["slopes"]),
                      "mean_final_delta": float(np.mean(d["final_deltas"])),
                      "direction": descriptor_direction(d["slopes"], d["final_deltas"])})
    return table


# --- the run ------------------------------------------------------------------------------------

@dataclass
class Experiment2Result:
    """One embedder's experiment 2: per-row results, the summaries per scope and the descriptor table."""

    embedder: str
    rows: list[dict]
    summary: dict[str, dict]  # "eq" / "reverb" / "all" → the five figures and DETAIL_KEYS
    descriptors: list[dict]

    def figures(self) -> dict[str, dict[str, float]]:
        """scope → the five figures of the release (what ``--json`` writes under the embedder's name)."""
        return {scope: {k: s[k] for k in SUMMARY_KEYS} for scope, s in self.summary.items()}


@dataclass
class Experiment2Run:
    """Everything a run found: one result per embedder, the protocol, the sources and notes."""

    results: list[Experiment2Result]
    config: Experiment2Config
    sources: list[dict]
    resolutions: dict[str, dict]  # "effect:word" → {"resolution", "used", "note"}
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The JSON layout: ``{embedder: {eq, reverb, all}, "per_word": [...], ...}`` (see the command)."""
        from timbrelab.probe.reference import CITATION, experiment2_reference

        out: dict = {r.embedder: r.figures() for r in self.results}
        out["per_word"] = [{"embedder": r.embedder, **row} for r in self.results for row in r.rows]
        out["descriptor_table"] = [{"embedder": r.embedder, **row} for r in self.results for row in r.descriptors]
        out["details"] = {r.embedder: {scope: {k: s[k] for k in DETAIL_KEYS} for scope, s in r.summary.items()} for r in self.results}
        out["reference"] = {"citation": CITATION, "experiment2": experiment2_reference()}
        out["protocol"] = {
            **self.config.to_dict(), "sources": self.sources, "tail_s": 0.0,
            "delta": "cos(embed_audio(processed), embed_text(prompt)) - cos(embed_audio(original), embed_text(prompt))",
            "slope": "least squares of delta on strength", "constant_delta": "correlations count as 0",
            "all_scope": "pooled over every row of both effects",
            "direction_rule": DIRECTION_RULE,
            "resolutions": self.resolutions,
        }
        out["notes"] = self.notes
        return out


def plan_for(effect: str, word: str, strength: float, fallback=None):
    """timbrelab's effect for one word at one strength: an :class:`timbrelab.fx.EffectPlan` with only that effect."""
    from timbrelab.fx import plan_effects

    if effect == "eq":
        return plan_effects(eq_words=[word], eq_amount=strength, reverb_amount=0.0, fallback=fallback)
    if effect == "reverb":
        return plan_effects(reverb_words=[word], reverb_amount=strength, eq_amount=0.0, fallback=fallback)
    raise BadParameterError(f"unknown effect '{effect}' (experiment 2 has {', '.join(EFFECTS)})")


def _embed_audio(emb: Embedder, audio: np.ndarray, sample_rate: int, dim: int) -> np.ndarray:
    return check_embedding(emb.embed_audio(audio, sample_rate), dim, f"{emb.name}'s audio embedding")


def run_experiment2(
    embedders,
    sources: list[Source] | None = None,
    config: Experiment2Config | None = None,
    words: dict[str, Iterable[str]] | None = None,
    strengths: Sequence[float] | None = None,
    fallback=None,
    progress: bool | None = None,
) -> Experiment2Run:
    """Run experiment 2 for one embedder or several (specs or objects, see :func:`load_embedder`).

    ``sources`` (default :func:`default_sources`), ``words`` (effect → words; default the config's 40)
    and ``strengths`` (default the config's) narrow the run, e.g. for a quick test. ``fallback``: the
    strategy for words in no crowd map (default: the shipped word → effect models, loaded only if a
    word needs one). ``progress``: a progress bar (None: only on a terminal).
    """
    from tqdm import tqdm

    from timbrelab.fx import apply
    from timbrelab.lexicon.resolve import used_summary

    config = config or experiment2_config()
    embs = [load_embedder(e) for e in (embedders if isinstance(embedders, (list, tuple)) else [embedders])]
    names = [e.name for e in embs]
    if len(set(names)) != len(names):
        raise BadParameterError(f"two embedders share a name ({', '.join(names)}): reports could not tell them apart")
    reserved = {"per_word", "descriptor_table", "details", "reference", "protocol", "notes", "provenance"}
    if reserved & set(names):
        raise BadParameterError(f"an embedder may not be called {', '.join(sorted(reserved & set(names)))}: the report uses that key")
    sources = sources if sources is not None else default_sources()
    if len({s.name for s in sources}) != len(sources) or not sources:
        raise BadParameterError("experiment 2 needs at least one source, each with its own name")
    words = {e: list(w) for e, w in (words or config.descriptors).items()}
    strengths = sorted(float(s) for s in (strengths or config.strengths))
    if len(strengths) < 2:
        raise BadParameterError("experiment 2 needs at least two strengths to fit a slope")
    if fallback is None:
        from timbrelab.word2fx.fallback import ModelFallback

        fallback = ModelFallback()  # one for the run: a model is loaded once if any word needs it

    plans = {(e, w, s): plan_for(e, w, s, fallback) for e, ws in words.items() for w in ws for s in strengths}
    resolutions = {}
    for (e, w, s), plan in plans.items():
        if s == strengths[-1]:
            r = plan.resolutions[0]
            resolutions[f"{e}:{w}"] = {"resolution": r.source, "effect": r.effect, "used": used_summary(r.used), "note": r.note}

    prompts = sorted({prompt_for(w) for ws in words.values() for w in ws})
    text, dims = [], []
    for emb in embs:
        t = check_embedding(emb.embed_text(prompts), None, f"{emb.name}'s text embeddings")
        if t.ndim != 2 or t.shape[0] != len(prompts):
            raise BadParameterError(f"{emb.name}'s embed_text gave shape {t.shape} for {len(prompts)} texts; expected ({len(prompts)}, d)")
        text.append(dict(zip(prompts, t)))
        dims.append(t.shape[1])

    notes = []
    # per embedder: (source, effect, word) → Δ per strength
    deltas = [dict() for _ in embs]
    base = [dict() for _ in embs]
    for i, emb in enumerate(embs):
        for src in sources:
            v = _embed_audio(emb, src.audio, src.sample_rate, dims[i])
            again = _embed_audio(emb, src.audio, src.sample_rate, dims[i])
            if not np.allclose(v, again, rtol=1e-5, atol=1e-8 * max(1.0, float(np.abs(v).max()))):
                raise BadParameterError(f"embedder {emb.name} is not deterministic: the same {src.name} clip gave two different vectors")
            base[i][src.name] = v
    total = len(sources) * len(plans)
    with tqdm(total=total, desc="experiment 2", unit="clip", disable=(progress is False) or None, leave=False) as bar:
        for src in sources:
            for (e, w, s), plan in plans.items():
                y = apply(src.audio, src.sample_rate, plan=plan, tail_s=0.0).audio
                prompt = prompt_for(w)
                for i, emb in enumerate(embs):
                    v = _embed_audio(emb, y, src.sample_rate, dims[i])
                    t = text[i][prompt]
                    deltas[i].setdefault((src.name, e, w), []).append(cosine(v, t) - cosine(base[i][src.name], t))
                bar.update(1)

    results = []
    for i, emb in enumerate(embs):
        rows = []
        for e, ws in words.items():
            for w in ws:
                for src in sources:
                    d = deltas[i][(src.name, e, w)]
                    rows.append({"source": src.name, "effect": e, "word": w, "prompt": prompt_for(w),
                                 "resolution": resolutions[f"{e}:{w}"]["resolution"], "strengths": strengths,
                                 "deltas": [float(x) for x in d], **trend(strengths, d)})
        summary = {e: summarise([r for r in rows if r["effect"] == e]) for e in words}
        summary["all"] = summarise(rows)
        if summary["all"]["constant_cases"]:
            notes.append(f"{emb.name}: Δ was the same at every strength in {summary['all']['constant_cases']} of "
                         f"{summary['all']['cases']} cases; their correlations count as 0")
        results.append(Experiment2Result(emb.name, rows, summary, descriptor_table(rows)))
    same: dict[tuple, list[str]] = {}
    for (e, w, s), plan in plans.items():
        if s == strengths[-1]:
            same.setdefault((e, tuple(plan.resolutions[0].settings)), []).append(w)
    for (e, _), ws in same.items():
        if len(ws) > 1:
            notes.append(f"{e} words with identical settings (the same processed audio; only the prompt differs): {', '.join(ws)}")
    models = sorted(k for k, v in resolutions.items() if v["resolution"] != "map")
    notes.append(f"{len(resolutions) - len(models)} of {len(resolutions)} words played from the crowd maps"
                 + (f"; from the word → effect models: {', '.join(models)}" if models else ""))
    return Experiment2Run(results, config, [s.to_dict() for s in sources], resolutions, notes)
