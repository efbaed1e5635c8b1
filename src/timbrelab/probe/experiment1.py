"""Experiment 1 of the timbre-semantics probe: does the embedding agree with human timbre ratings?

Deng, Pardo & Pappas compare, for every instrument recording and every timbre descriptor, the
embedder's similarity cos(embed_audio(instrument audio), embed_text(descriptor)) with the mean human
rating of that descriptor for that instrument. The text is the **bare descriptor** ("bright"), not a
prompt. Statistics (:func:`run_experiment1`), as the release reports them:

- **per descriptor**, across instruments: Pearson r (and Spearman ρ) between the similarities and
  the ratings → how many descriptors have r > 0, out of the number of descriptors;
- **per instrument**, across descriptors: Pearson r between that instrument's similarities and its
  ratings → how many instruments have r > 0, out of the number of instruments.

A correlation over values that do not vary (a descriptor every instrument got the same rating, an
embedder that gives every instrument the same similarity) is undefined: it counts as 0 (not
positive) and the result lists it under ``constant``.

The ratings table (:func:`load_ratings`) is a CSV, one row per instrument::

    instrument,audio,bright,dim,...
    erhu,audio/erhu.wav,6.1,2.3,...

``instrument`` (a unique name), ``audio`` (the recording, a path relative to the table's folder, or
absolute) and then one column per descriptor holding the mean human rating (any numeric scale: only
correlations are computed). Every cell must be filled; the column header is the text embedded.

**CCMusic's instrument-timbre data** (the release's experiment 1; Chinese and Western instruments
rated on 16 descriptors — bright, clear, coarse, dim, dry, harmonious, hoarse, plump, pure, sharp,
slim, soft, thick, thin, turbid, vigorous): it is licensed CC BY-NC-ND, so timbrelab does not ship or
redistribute it and never downloads it. To use it, download the data set yourself (the
``ccmusic-database/instrument_timbre`` release) and convert it to the layout above: one audio file
per instrument (decode the data set's audio column to WAV/FLAC files beside the table), one row per
instrument with its name, the relative path of its file, and its 16 mean ratings under the
descriptor names used here (the data set's English translations of the Chinese terms; rename a
column if its spelling differs, since the release's reference rows are matched by descriptor name).
Keep the Chinese and Western instruments in one table or in two (the release pools them). Then::

    timbrelab probe exp1 --ratings ccmusic_timbre.csv --embedder SPEC

prints the statistics beside the release's per-descriptor table for its four models
(``experiment1_descriptors.csv``, via :func:`timbrelab.probe.reference.experiment1_reference`).
"""

from __future__ import annotations

import csv
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from timbrelab.errors import AudioFileError, BadParameterError
from timbrelab.probe.embedders import Embedder, check_embedding, cosine, load_embedder

REQUIRED_COLUMNS = ("instrument", "audio")
MIN_INSTRUMENTS = 3  # a correlation across instruments needs at least three
MIN_DESCRIPTORS = 3  # … and one across descriptors, three descriptors


@dataclass(frozen=True)
class RatingsTable:
    """Mean human ratings: ``ratings[i, j]`` of descriptor ``descriptors[j]`` for ``instruments[i]``,
    whose recording is ``audio_paths[i]``; ``source`` is the table's file."""

    instruments: tuple[str, ...]
    audio_paths: tuple[Path, ...]
    descriptors: tuple[str, ...]
    ratings: np.ndarray  # (n_instruments, n_descriptors) float64
    source: str = ""


def load_ratings(path, check_audio: bool = True) -> RatingsTable:
    """Read a ratings table (layout in the module docstring); raise BadParameterError / AudioFileError
    with one line naming the file, row or column at fault. ``check_audio``: each audio file must exist."""
    path = Path(path)
    if not path.is_file():
        raise BadParameterError(f"ratings table {path} does not exist")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            rows = [r for r in reader if any(c.strip() for c in r)]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise BadParameterError(f"ratings table {path} is not a readable CSV ({exc})") from None
    if not rows:
        raise BadParameterError(f"ratings table {path} is empty")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise BadParameterError(f"ratings table {path} lacks the column(s) {', '.join(missing)} (needs instrument, audio, then one column per descriptor)")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes or any(not h for h in header):
        raise BadParameterError(f"ratings table {path}: every column needs its own non-empty name (repeated: {', '.join(dupes) or 'an empty name'})")
    descriptors = tuple(h for h in header if h not in REQUIRED_COLUMNS)
    if len(descriptors) < MIN_DESCRIPTORS:
        raise BadParameterError(f"ratings table {path} has {len(descriptors)} descriptor column(s); experiment 1 needs at least {MIN_DESCRIPTORS}")
    i_name, i_audio = header.index("instrument"), header.index("audio")
    d_index = [header.index(d) for d in descriptors]
    names, paths, values = [], [], []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise BadParameterError(f"ratings table {path}, line {line}: {len(row)} cells for {len(header)} columns")
        name, audio = row[i_name].strip(), row[i_audio].strip()
        if not name or not audio:
            raise BadParameterError(f"ratings table {path}, line {line}: the instrument and audio cells must not be empty")
        if name in names:
            raise BadParameterError(f"ratings table {path}, line {line}: instrument '{name}' appears twice")
        vals = []
        for j, d in zip(d_index, descriptors):
            try:
                v = float(row[j])
            except ValueError:
                raise BadParameterError(f"ratings table {path}, line {line}: the rating of '{d}' is {row[j]!r}, not a number") from None
            if not math.isfinite(v):
                raise BadParameterError(f"ratings table {path}, line {line}: the rating of '{d}' is not a finite number")
            vals.append(v)
        audio_path = Path(audio) if Path(audio).is_absolute() else path.parent / audio
        if check_audio and not audio_path.is_file():
            raise AudioFileError(f"ratings table {path}, line {line}: the audio file {audio} of '{name}' does not exist")
        names.append(name)
        paths.append(audio_path)
        values.append(vals)
    if len(names) < MIN_INSTRUMENTS:
        raise BadParameterError(f"ratings table {path} has {len(names)} instrument(s); experiment 1 needs at least {MIN_INSTRUMENTS}")
    return RatingsTable(tuple(names), tuple(paths), descriptors, np.array(values, dtype=np.float64), str(path))


def _correlations(x: np.ndarray, y: np.ndarray) -> tuple[float, float, bool]:
    """Pearson r and Spearman ρ of two vectors; ``(0, 0, True)`` when either is constant."""
    from scipy import stats

    if np.ptp(x) == 0.0 or np.ptp(y) == 0.0:
        return 0.0, 0.0, True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r, rho = float(stats.pearsonr(x, y)[0]), float(stats.spearmanr(x, y)[0])
    return (r if math.isfinite(r) else 0.0), (rho if math.isfinite(rho) else 0.0), False


@dataclass
class Experiment1Result:
    """One embedder's experiment 1: the similarity matrix, the correlations and their counts."""

    embedder: str
    table: RatingsTable
    similarities: np.ndarray  # (n_instruments, n_descriptors): cos(audio, descriptor)
    per_descriptor: list[dict]  # {"descriptor", "pearson", "spearman", "constant"}
    per_instrument: list[dict]  # {"instrument", "pearson", "spearman", "constant"}
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        """Counts of positive correlations (and means), as the release states them."""
        d, i = self.per_descriptor, self.per_instrument
        return {
            "positive_descriptors": int(sum(r["pearson"] > 0 for r in d)), "n_descriptors": len(d),
            "positive_descriptors_spearman": int(sum(r["spearman"] > 0 for r in d)),
            "positive_instruments": int(sum(r["pearson"] > 0 for r in i)), "n_instruments": len(i),
            "mean_descriptor_pearson": float(np.mean([r["pearson"] for r in d])),
            "mean_descriptor_spearman": float(np.mean([r["spearman"] for r in d])),
            "mean_instrument_pearson": float(np.mean([r["pearson"] for r in i])),
            "constant_descriptors": int(sum(r["constant"] for r in d)), "constant_instruments": int(sum(r["constant"] for r in i)),
        }

    def to_dict(self) -> dict:
        """JSON layout: ``{embedder: summary, "per_descriptor", "per_instrument", "reference", "protocol", "notes"}``."""
        from timbrelab.probe.reference import CITATION

        return {
            self.embedder: self.summary(),
            "per_descriptor": [{"embedder": self.embedder, **r} for r in self.per_descriptor],
            "per_instrument": [{"embedder": self.embedder, **r} for r in self.per_instrument],
            "similarities": {"instruments": list(self.table.instruments), "descriptors": list(self.table.descriptors),
                             "cosine": [[float(x) for x in row] for row in self.similarities]},
            "reference": {"citation": CITATION, "experiment1": reference_summary()},
            "protocol": {"table": Path(self.table.source).name, "text": "the bare descriptor",
                         "similarity": "cos(embed_audio(instrument audio), embed_text(descriptor))",
                         "per_descriptor": "Pearson r / Spearman rho across instruments between similarity and mean rating",
                         "per_instrument": "Pearson r across descriptors between similarity and mean rating",
                         "constant": "a correlation over constant values counts as 0 (not positive)"},
            "notes": self.notes,
        }


def reference_summary() -> dict:
    """The release's experiment 1 per model: positive descriptors (Pearson, Spearman) out of the
    descriptors, the mean r, and the per-descriptor rows (``{descriptor: {"pearson", "spearman"}}``)."""
    from timbrelab.probe.reference import experiment1_reference

    out: dict = {}
    for row in experiment1_reference():
        out.setdefault(row["model"], {})[row["descriptor"]] = {"pearson": row["pearson"], "spearman": row["spearman"]}
    return {m: {"positive_descriptors": int(sum(v["pearson"] > 0 for v in d.values())),
                "positive_descriptors_spearman": int(sum(v["spearman"] > 0 for v in d.values())),
                "n_descriptors": len(d), "mean_descriptor_pearson": float(np.mean([v["pearson"] for v in d.values()])),
                "descriptors": d} for m, d in out.items()}


def run_experiment1(embedder, table: RatingsTable) -> Experiment1Result:
    """Experiment 1 for one embedder (a spec or an object, see :func:`load_embedder`) on ``table``."""
    from timbrelab.audio import read_audio

    emb: Embedder = load_embedder(embedder)
    text = check_embedding(emb.embed_text(list(table.descriptors)), None, f"{emb.name}'s text embeddings")
    if text.ndim != 2 or text.shape[0] != len(table.descriptors):
        raise BadParameterError(f"{emb.name}'s embed_text gave shape {text.shape} for {len(table.descriptors)} texts; expected ({len(table.descriptors)}, d)")
    sims = np.zeros(table.ratings.shape)
    for i, (name, path) in enumerate(zip(table.instruments, table.audio_paths)):
        if not path.is_file():
            raise AudioFileError(f"the audio file {path.name} of '{name}' does not exist")
        audio, sr = read_audio(path)
        a = check_embedding(emb.embed_audio(audio, sr), text.shape[1], f"{emb.name}'s audio embedding of {name}")
        sims[i] = [cosine(a, t) for t in text]
    per_descriptor = []
    for j, d in enumerate(table.descriptors):
        r, rho, const = _correlations(sims[:, j], table.ratings[:, j])
        per_descriptor.append({"descriptor": d, "pearson": r, "spearman": rho, "constant": const})
    per_instrument = []
    for i, name in enumerate(table.instruments):
        r, rho, const = _correlations(sims[i], table.ratings[i])
        per_instrument.append({"instrument": name, "pearson": r, "spearman": rho, "constant": const})
    notes = []
    known = set(reference_summary().get("LAION-CLAP", {}).get("descriptors", {}))
    unmatched = [d for d in table.descriptors if d not in known]
    if known and unmatched:
        notes.append(f"descriptors without a row in the release's table (compared by count only): {', '.join(unmatched)}")
    result = Experiment1Result(emb.name, table, sims, per_descriptor, per_instrument, notes)
    s = result.summary()
    if s["constant_descriptors"] or s["constant_instruments"]:
        notes.append(f"{s['constant_descriptors']} descriptor(s) and {s['constant_instruments']} instrument(s) had constant values: "
                     "their correlations count as 0")
    return result
