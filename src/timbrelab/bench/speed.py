"""`timbrelab bench speed`: what a user waits for, and how much memory it takes, each run a fresh process.

Sections (``--only`` picks some; new sections register in ``SECTIONS``):

- **apply** — ``timbrelab apply`` on the bundled guitar clip (10 s, stereo 44.1 kHz) with a crowd-map
  word ("warm"), a thinly rated map word played from the word → EQ model ("toasty"), a word in no map
  that the models' training data has ("velvety"), a word in no map and no training data ("silky":
  MiniLM and GloVe run at run time) and a word that is refused ("qwerty", exit code 2). Each is a
  fresh process (interpreter start, imports, model loading: what a user waits for); wall time and
  peak resident memory (the process's own ``VmHWM``), median of ``--repeats`` runs, interleaved
  after one untimed warm-up round (so every case sees a warm file cache).
  Target (issue #8): a model-resolved word takes at most 2 × the map word's time + 2 s, and peaks
  below 500 MB.
- **encode** — ``apply "warm"`` on a 3-minute file to WAV, FLAC, MP3 and OGG: what each format adds to
  the WAV run, against ffmpeg encoding the same audio to the same format and bit rate (issue 16).
- **commands** — every command on standard inputs (apply with a map and a model word, classify of a
  3-minute file, render of a note and of a phrase, describe, separate, explore interpolate, index of the
  97 shipped Medley-solos-DB clips from no index, search of that index): its first run in the bench and
  the median of the next runs (warm).
- **classify** — ``timbrelab classify`` peak memory and wall time on 10 s, 3 min and 20 min files
  (the bundled clip looped, stereo 44.1 kHz 16-bit WAV, written to a temporary folder).
  Target: memory does not grow with length (20 min within 50 MB of 10 s).

Writes ``reports/speed/bench_speed.json`` (with provenance: commit, package versions, machine,
command), ``bench_speed.md`` and ``bench_speed.png``. Run a section alone with
``timbrelab bench speed --only classify`` (or ``python -m timbrelab.bench.speed``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

DEFAULT_OUT = "reports/speed"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "guitar_em9.flac"

#: the apply cases: (word, how it resolves)
APPLY_WORDS = (
    ("warm", "crowd map"),
    ("toasty", "word2eq model; thin map word (precomputed embedding)"),
    ("velvety", "word2eq model; in no map, a word2reverb training word (precomputed embedding)"),
    ("silky", "word2eq model; a new word (embedded at run time)"),
    ("qwerty", "refused (embedded at run time; no similar word)"),
)
MAP_WORD = "warm"
MODEL_WORDS = ("toasty", "velvety", "silky", "qwerty")
CLASSIFY_LENGTHS_S = {"10 s": 10.0, "3 min": 180.0, "20 min": 1200.0}
#: targets
MAX_MODEL_TIME_FACTOR, MAX_MODEL_EXTRA_S, MAX_MODEL_RSS_MB = 2.0, 2.0, 500.0
MAX_CLASSIFY_GROWTH_MB = 50.0

# A fresh interpreter that runs the CLI exactly as the `timbrelab` script does, and at exit writes its
# own peak resident memory (VmHWM, kB) to the file named by its first argument. getrusage in the
# parent would not do: on Linux an exec'd child's ru_maxrss starts from the parent's memory.
_CHILD = r"""
import atexit, sys
_out = sys.argv.pop(1)
def _hwm():
    kb = None
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    kb = int(line.split()[1])
    except OSError:
        import resource
        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // (1024 if sys.platform == "darwin" else 1)
    with open(_out, "w") as f:
        f.write(str(kb))
atexit.register(_hwm)
sys.argv[0] = "timbrelab"
from timbrelab.cli import main
sys.exit(main(sys.argv[1:]))
"""


@dataclass
class Run:
    wall_s: float
    peak_rss_mb: float | None
    exit_code: int


def run_cli(args: list[str], workdir: Path) -> Run:
    """One fresh ``timbrelab ARGS`` process: wall time from spawn to exit, its peak RSS, its exit code."""
    fd, hwm = tempfile.mkstemp(prefix="hwm-", dir=workdir)
    os.close(fd)
    env = {**os.environ, "TQDM_DISABLE": "1"}
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", _CHILD, hwm, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=workdir)
    wall = time.perf_counter() - t
    text = Path(hwm).read_text().strip()
    Path(hwm).unlink(missing_ok=True)
    return Run(wall, int(text) / 1024 if text else None, p.returncode)


def _summary(runs: list[Run]) -> dict:
    rss = [r.peak_rss_mb for r in runs if r.peak_rss_mb is not None]
    return {
        "wall_s": [round(r.wall_s, 3) for r in runs],
        "peak_rss_mb": [round(x, 1) for x in rss],
        "exit_codes": [r.exit_code for r in runs],
        "median_wall_s": round(statistics.median(r.wall_s for r in runs), 3),
        "median_peak_rss_mb": round(statistics.median(rss), 1) if rss else None,
    }


# ------------------------------------------------------------------------------------------ apply
def measure_apply(args, workdir: Path, progress: Callable[[str], None]) -> dict:
    src = Path(args.input) if args.input else EXAMPLE
    runs: dict[str, list[Run]] = {w: [] for w, _ in APPLY_WORDS}
    for rnd in range(-1, args.repeats):  # round -1: warm-up, not recorded
        for word, _ in APPLY_WORDS:
            progress(f"apply {word!r} {'warm-up' if rnd < 0 else f'run {rnd + 1}/{args.repeats}'}")
            r = run_cli(["apply", str(src), "-o", str(workdir / f"out-{word}.wav"), word], workdir)
            if rnd >= 0:
                runs[word].append(r)
    per_word = {w: {"resolves_by": how, **_summary(runs[w])} for w, how in APPLY_WORDS}
    for w, d in per_word.items():
        want = 2 if w == "qwerty" else 0
        if any(c != want for c in d["exit_codes"]):
            raise RuntimeError(f"bench speed: `timbrelab apply … {w}` exited {d['exit_codes']} (expected {want})")
    t_map = per_word[MAP_WORD]["median_wall_s"]
    ratios = {w: round(per_word[w]["median_wall_s"] / t_map, 3) for w in MODEL_WORDS}
    extra = {w: round(per_word[w]["median_wall_s"] - t_map, 3) for w in MODEL_WORDS}
    rss = {w: per_word[w]["median_peak_rss_mb"] for w in MODEL_WORDS}
    time_ok = {w: per_word[w]["median_wall_s"] <= MAX_MODEL_TIME_FACTOR * t_map + MAX_MODEL_EXTRA_S for w in MODEL_WORDS}
    rss_ok = {w: rss[w] is not None and rss[w] < MAX_MODEL_RSS_MB for w in MODEL_WORDS}
    worst = max(MODEL_WORDS, key=lambda w: per_word[w]["median_wall_s"])
    return {
        "input": str(src.name if src == EXAMPLE else src),
        "repeats": args.repeats,
        "apply": per_word,
        "map_word": MAP_WORD,
        "model_words": list(MODEL_WORDS),
        # the worst model-resolved word, and every one of them
        "model_word_time_ratio_vs_map_word": max(ratios.values()),
        "model_word_extra_s": max(extra.values()),
        "model_word_peak_rss_mb": max(v for v in rss.values() if v is not None),
        "slowest_model_word": worst,
        "model_word_time_ratio_vs_map_word_by_word": ratios,
        "model_word_extra_s_by_word": extra,
        "model_word_peak_rss_mb_by_word": rss,
        "targets": {
            "model_word_time": f"median wall time of each model-resolved word <= {MAX_MODEL_TIME_FACTOR:g} × the map word's + {MAX_MODEL_EXTRA_S:g} s",
            "model_word_peak_rss": f"median peak RSS of each model-resolved word < {MAX_MODEL_RSS_MB:g} MB",
        },
        "targets_met": {"model_word_time": all(time_ok.values()), "model_word_peak_rss": all(rss_ok.values())},
    }


# --------------------------------------------------------------------------------------- classify
def write_looped_wav(path: Path, duration_s: float, clip: Path = EXAMPLE) -> float:
    """``duration_s`` of ``clip`` looped, as a 16-bit stereo WAV at the clip's rate, written block by block."""
    import numpy as np
    import soundfile as sf

    x, sr = sf.read(str(clip), dtype="float32", always_2d=True)
    frames = int(round(duration_s * sr))
    with sf.SoundFile(str(path), "w", samplerate=sr, channels=x.shape[1], format="WAV", subtype="PCM_16") as f:
        done = 0
        while done < frames:
            n = min(len(x), frames - done)
            f.write(np.ascontiguousarray(x[:n]))
            done += n
    return frames / sr


def measure_classify(args, workdir: Path, progress: Callable[[str], None]) -> dict:
    lengths = {k: v for k, v in CLASSIFY_LENGTHS_S.items() if v <= args.classify_max_s}
    files = {}
    for name, dur in lengths.items():
        progress(f"writing a {name} file")
        files[name] = workdir / f"classify-{int(dur)}s.wav"
        write_looped_wav(files[name], dur)
    runs: dict[str, list[Run]] = {k: [] for k in files}
    for rnd in range(-1, args.classify_repeats):
        for name, path in files.items():
            if rnd < 0 and name != next(iter(files)):
                continue  # warm-up: one short run loads the libraries and weights into the file cache
            progress(f"classify {name} {'warm-up' if rnd < 0 else f'run {rnd + 1}/{args.classify_repeats}'}")
            r = run_cli(["classify", str(path), "--json"], workdir)
            if r.exit_code != 0:
                raise RuntimeError(f"bench speed: `timbrelab classify` on the {name} file exited {r.exit_code}")
            if rnd >= 0:
                runs[name].append(r)
    per_len = {k: {"duration_s": lengths[k], **_summary(v)} for k, v in runs.items()}
    peaks = {k: v["median_peak_rss_mb"] for k, v in per_len.items()}
    first, last = next(iter(peaks)), list(peaks)[-1]
    growth = round(peaks[last] - peaks[first], 1)
    return {
        "classify": per_len,
        "classify_signal": f"{EXAMPLE.name} looped, 16-bit stereo WAV",
        "classify_repeats": args.classify_repeats,
        "classify_peak_rss_mb": peaks,
        "classify_wall_s": {k: v["median_wall_s"] for k, v in per_len.items()},
        "classify_peak_rss_growth_mb": growth,
        "targets": {"classify_memory_flat": f"peak RSS on the {last} file within {MAX_CLASSIFY_GROWTH_MB:g} MB of the {first} file's"},
        "targets_met": {"classify_memory_flat": growth <= MAX_CLASSIFY_GROWTH_MB},
    }


# ----------------------------------------------------------------------------------------- encode
ENCODE_FORMATS = ("wav", "flac", "mp3", "ogg")
ENCODE_LENGTH_S = 180.0
#: ffmpeg's encoder for each format. Lossy ones at the same quality as apply's file: MP3 with apply's own
#: LAME VBR setting; Vorbis (libsndfile's encoder in apply) at the libvorbis VBR quality among
#: OGG_QUALITIES whose bit rate comes nearest apply's file (asking libvorbis for a bit rate gave about
#: half of it on this audio, so bit-rate matching by "-b:a" was not the same quality)
FFMPEG_CODECS = {"wav": ["-c:a", "pcm_s16le"], "flac": ["-c:a", "flac"], "mp3": ["-c:a", "libmp3lame"], "ogg": ["-c:a", "libvorbis"]}
OGG_QUALITIES = (1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0)


def _ffmpeg_encode(src: Path, dst: Path, fmt: str, extra: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), *FFMPEG_CODECS[fmt], *extra, str(dst)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def _matched_vorbis_quality(src: Path, workdir: Path, target_kbps: float, dur: float) -> float:
    """The libvorbis VBR quality whose output of ``src`` comes nearest ``target_kbps`` (untimed trial encodes)."""
    best = None
    for q in OGG_QUALITIES:
        out = workdir / "ff-trial.ogg"
        _ffmpeg_encode(src, out, "ogg", ["-q:a", f"{q:g}"])
        kbps = out.stat().st_size * 8 / dur / 1000
        if best is None or abs(kbps - target_kbps) < best[1]:
            best = (q, abs(kbps - target_kbps))
    return best[0]


def measure_encode(args, workdir: Path, progress: Callable[[str], None]) -> dict:
    """``apply "warm"`` on a 3-minute stereo file written as WAV, FLAC, MP3 and OGG (fresh processes,
    median of ``--encode-repeats`` interleaved runs after a warm-up): what each format adds to the WAV
    run is apply's encoding cost. Against it, ffmpeg encoding apply's WAV output to the same format at
    the same quality (see ``FFMPEG_CODECS``) minus ffmpeg's own WAV-to-WAV time."""
    import shutil

    src = workdir / "encode-src.wav"
    progress("writing a 3 min file")
    dur = write_looped_wav(src, ENCODE_LENGTH_S)
    runs: dict[str, list[Run]] = {f: [] for f in ENCODE_FORMATS}
    for rnd in range(-1, args.encode_repeats):
        for fmt in ENCODE_FORMATS:
            progress(f"apply → {fmt} {'warm-up' if rnd < 0 else f'run {rnd + 1}/{args.encode_repeats}'}")
            r = run_cli(["apply", str(src), "-o", str(workdir / f"enc.{fmt}"), "warm", "-q"], workdir)
            if r.exit_code != 0:
                raise RuntimeError(f"bench speed: `timbrelab apply … -o enc.{fmt}` exited {r.exit_code}")
            if rnd >= 0:
                runs[fmt].append(r)
    ours = {f: {**_summary(runs[f]), "kbps": round((workdir / f"enc.{f}").stat().st_size * 8 / dur / 1000, 1)} for f in ENCODE_FORMATS}
    t_wav = ours["wav"]["median_wall_s"]
    for f in ENCODE_FORMATS:
        ours[f]["encode_s"] = round(ours[f]["median_wall_s"] - t_wav, 3)
    result = {"encode_input": f"{EXAMPLE.name} looped to {dur / 60:g} min, 16-bit stereo WAV", "encode_repeats": args.encode_repeats,
              "encode": ours, "targets": {}, "targets_met": {}}
    if shutil.which("ffmpeg"):
        from timbrelab.audio import MP3_VBR_QUALITY

        progress("ffmpeg: the Vorbis quality of apply's bit rate")
        q_ogg = _matched_vorbis_quality(workdir / "enc.wav", workdir, ours["ogg"]["kbps"], dur)
        settings = {"wav": [], "flac": [], "mp3": ["-q:a", str(MP3_VBR_QUALITY)], "ogg": ["-q:a", f"{q_ogg:g}"]}
        ff: dict[str, list[float]] = {f: [] for f in ENCODE_FORMATS}
        for rnd in range(-1, args.encode_repeats):
            for fmt in ENCODE_FORMATS:
                progress(f"ffmpeg → {fmt}")
                t = _ffmpeg_encode(workdir / "enc.wav", workdir / f"ff.{fmt}", fmt, settings[fmt])
                if rnd >= 0:
                    ff[fmt].append(t)
        ffm = {f: round(statistics.median(v), 3) for f, v in ff.items()}
        result["ffmpeg"] = {f: {"median_wall_s": ffm[f], "encode_s": round(ffm[f] - ffm["wav"], 3), "settings": " ".join(settings[f]),
                                "kbps": round((workdir / f"ff.{f}").stat().st_size * 8 / dur / 1000, 1)} for f in ENCODE_FORMATS}
        result["targets"]["encode_mp3"] = f"apply's MP3 encoding time ≤ ffmpeg's with the same encoder setting (libmp3lame -q:a {MP3_VBR_QUALITY})"
        result["targets"]["encode_ogg"] = (f"apply's OGG encoding time ≤ ffmpeg's at the same quality (libvorbis -q:a {q_ogg:g}, the VBR quality "
                                           f"nearest apply's bit rate: {result['ffmpeg']['ogg']['kbps']:.0f} against {ours['ogg']['kbps']:.0f} kbit/s)")
        for f in ("mp3", "ogg"):
            result["targets_met"][f"encode_{f}"] = ours[f]["encode_s"] <= result["ffmpeg"][f]["encode_s"]
    return result


def _encode_rows(r: dict) -> list[str]:
    rows = []
    for f, d in r["encode"].items():
        ff = r.get("ffmpeg", {}).get(f)
        cmp = "(reference)" if f == "wav" else f"encoding +{d['encode_s']:.2f} s" + (f"; ffmpeg +{ff['encode_s']:.2f} s at {ff['kbps']:.0f} kbps" + (f" ({ff['settings']})" if ff.get("settings") else "") if ff else "")
        rows.append(f"| `apply` 3 min → {f.upper()} ({d['kbps']:.0f} kbps) | {d['median_wall_s']:.2f} s | {d['median_peak_rss_mb']:.0f} MB | {cmp} |")
    return rows


# --------------------------------------------------------------------------------------- commands
def command_cases(workdir: Path) -> dict[str, list[str]]:
    """Every CLI command a user runs, on standard inputs (outputs in ``workdir``)."""
    from timbrelab.demo import separation_example_path

    duet = separation_example_path()
    return {
        "apply (map word)": ["apply", str(EXAMPLE), "-o", str(workdir / "c-apply.wav"), "warm", "-q"],
        "apply (model word)": ["apply", str(EXAMPLE), "-o", str(workdir / "c-apply-model.wav"), "toasty", "-q"],
        "classify 3 min file": ["classify", str(workdir / "classify-180s.wav"), "--json"],
        "render a note": ["render", "violin", "-o", str(workdir / "c-note.wav")],
        "render a phrase": ["render", "violin", "--phrase", "-o", str(workdir / "c-phrase.wav")],
        "describe the guitar clip": ["describe", str(EXAMPLE), "--json"],
        "separate the duet (violin)": ["separate", str(duet), "the violin", "-o", str(workdir / "c-violin.wav"), "-q"],
        "explore interpolate (violin → trumpet)": ["explore", "interpolate", "--source", "violin", "--target", "trumpet", "--pitch", "67",
                                                   "-o", str(workdir / "c-explore")],
        INDEX_CASE: ["index", str(workdir / "library"), "--index", str(workdir / "c-index"), "-q", "--json"],
        "search the index (\"warm mellow pad\")": ["search", "warm mellow pad", "--index", str(workdir / "c-index"), "--json"],
    }


#: the index case starts from no index on every run (a first build), and leaves the index the search case reads
INDEX_CASE = "index 97 real clips (a first build)"


def write_library(folder: Path) -> None:
    """The library the index case embeds: the 97 Medley-solos-DB clips shipped with the package (FLAC, ~3 s each)."""
    import shutil

    from timbrelab.sounds.recordings import medley

    folder.mkdir(parents=True, exist_ok=True)
    for r in medley():
        shutil.copyfile(r.path, folder / r.path.name)


def measure_commands(args, workdir: Path, progress: Callable[[str], None]) -> dict:
    """Each command twice in a row, fresh processes: the first run ("cold": the first time this bench
    runs it, so its model files and libraries may not be in the file cache yet — the OS cache is not
    flushed, which needs root) and the median of the next ``--command-repeats`` ("warm")."""
    if not (workdir / "classify-180s.wav").exists():
        progress("writing a 3 min file")
        write_looped_wav(workdir / "classify-180s.wav", 180.0)
    if not (workdir / "library").exists():
        write_library(workdir / "library")
    out = {}
    for name, argv in command_cases(workdir).items():
        runs = []
        for k in range(1 + args.command_repeats):
            progress(f"{name} {'cold' if k == 0 else f'warm {k}/{args.command_repeats}'}")
            if name == INDEX_CASE:
                shutil.rmtree(workdir / "c-index", ignore_errors=True)
            r = run_cli(argv, workdir)
            if r.exit_code != 0:
                raise RuntimeError(f"bench speed: `timbrelab {' '.join(argv[:2])} …` exited {r.exit_code}")
            runs.append(r)
        warm = _summary(runs[1:])
        out[name] = {"argv": ["timbrelab", *[a.replace(str(workdir), "$TMP") for a in argv]], "cold_wall_s": round(runs[0].wall_s, 3),
                     "cold_peak_rss_mb": round(runs[0].peak_rss_mb or 0, 1), **warm}
    return {"commands": out, "command_repeats": args.command_repeats, "targets": {}, "targets_met": {}}


def _command_rows(r: dict) -> list[str]:
    return [f"| `{name}` | {d['median_wall_s']:.2f} s warm / {d['cold_wall_s']:.2f} s first run | {d['median_peak_rss_mb']:.0f} MB | |"
            for name, d in r["commands"].items()]


@dataclass(frozen=True)
class Section:
    name: str
    help: str
    measure: Callable  # (args, workdir, progress) -> dict with "targets" and "targets_met"
    table: Callable  # result dict -> markdown rows (after the header)
    headline: tuple = ()  # keys of the section's result repeated at the top level of the JSON


def _apply_rows(r: dict) -> list[str]:
    rows = []
    for w, d in r["apply"].items():
        rows.append(f"| `apply` {r['input']} \"{w}\" — {d['resolves_by']} | {d['median_wall_s']:.2f} s | {d['median_peak_rss_mb']:.0f} MB |"
                    + (f" {r['model_word_time_ratio_vs_map_word_by_word'][w]:.2f}× / {r['model_word_extra_s_by_word'][w]:+.2f} s |" if w in r["model_words"] else " (reference) |"))
    return rows


def _classify_rows(r: dict) -> list[str]:
    return [f"| `classify` {k} file | {d['median_wall_s']:.1f} s | {d['median_peak_rss_mb']:.0f} MB | |" for k, d in r["classify"].items()]


SECTIONS = {
    "apply": Section("apply", "apply with a map word, a model word, a new word and a refused word", measure_apply, _apply_rows,
                     ("model_word_time_ratio_vs_map_word", "model_word_extra_s", "model_word_peak_rss_mb")),
    "classify": Section("classify", "classify memory and time on 10 s, 3 min and 20 min files", measure_classify, _classify_rows,
                        ("classify_peak_rss_mb",)),
    "encode": Section("encode", "apply to WAV, FLAC, MP3 and OGG against ffmpeg encoding the same audio", measure_encode, _encode_rows),
    "commands": Section("commands", "every command on standard inputs, first run and warm", measure_commands, _command_rows),
}


DESCRIPTION = (
    "Time what a user waits for, each run a fresh `timbrelab` process: `apply` on the bundled clip with a crowd-map "
    "word, a thin map word and a new word played from the word → EQ model, and a refused word (median of --repeats "
    "runs), and `classify` on 10 s, 3 min and 20 min files; report wall time, peak memory and the targets of issue #8. "
    "Writes JSON (with provenance), a markdown table and a PNG."
)
EPILOG = (
    "examples:\n"
    "  timbrelab bench speed                               # the README's table (~1 min)\n"
    "  timbrelab bench speed --only apply --repeats 9      # words only, more repeats\n"
    "  timbrelab bench speed --only classify --classify-max-s 180\n"
)


def register(sub) -> None:
    p = sub.add_parser(
        "speed",
        help="wall time and peak memory of apply (map, model, new, refused words) and classify (10 s … 20 min)",
        description=DESCRIPTION,
        epilog=EPILOG,
    )
    add_arguments(p)
    p.set_defaults(func=run)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--only", action="append", choices=sorted(SECTIONS), help="run only this section (repeatable; default all)")
    p.add_argument("--repeats", type=int, default=5, help="timed runs per apply case; the median is reported (default 5)")
    p.add_argument("--classify-repeats", type=int, default=1, help="runs per classify length (default 1)")
    p.add_argument("--classify-max-s", type=float, default=1200.0, help="skip classify files longer than this (default 1200 = all)")
    p.add_argument("--encode-repeats", type=int, default=3, help="runs per output format in the encode section (default 3)")
    p.add_argument("--command-repeats", type=int, default=2, help="warm runs per command after its first (default 2)")
    p.add_argument("--input", metavar="FILE", help=f"audio for the apply runs (default the bundled {EXAMPLE.name})")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"folder for bench_speed.json/.md/.png (default {DEFAULT_OUT})")


def run(args, argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    from timbrelab.bench.provenance import report_provenance, write_report
    from timbrelab.errors import BadParameterError
    if not (3 <= args.repeats <= 50) or not (1 <= args.classify_repeats <= 10) or not (1 <= args.encode_repeats <= 10) or not (1 <= args.command_repeats <= 10):
        raise BadParameterError("--repeats 3…50 (a median of at least 3 runs), --classify-repeats, --encode-repeats, --command-repeats 1…10")
    names = args.only or list(SECTIONS)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": "speed", "provenance": report_provenance("speed", args, argv, packages=("scipy", "soundfile")),
              "sections": names, "targets": {}, "targets_met": {}}
    bar = tqdm(desc="bench speed", unit="run", bar_format="{desc}: {elapsed} {postfix}")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="timbrelab-bench-speed-") as tmp:
        for name in names:
            r = SECTIONS[name].measure(args, Path(tmp), lambda s: bar.set_postfix_str(s))
            result["targets"].update(r.pop("targets"))
            result["targets_met"].update(r.pop("targets_met"))
            result.update({k: r[k] for k in SECTIONS[name].headline})
            result[name] = r
    bar.close()
    result["bench_wall_s"] = round(time.perf_counter() - t0, 1)
    write_report(out_dir, "speed", result, markdown(result), plot)
    return 0


def markdown(result: dict) -> str:
    from timbrelab.bench.provenance import markdown_footer

    lines = ["| case | wall time (median) | peak memory (median) | compared |", "|---|---|---|---|"]
    for name in result["sections"]:
        lines += SECTIONS[name].table(result[name])
    lines.append("")
    for k, text in result["targets"].items():
        lines.append(f"- target {k}: {text} — **{'met' if result['targets_met'][k] else 'NOT met'}**")
    if "apply" in result:
        a = result["apply"]
        lines.append(f"\nEach case is a fresh `timbrelab` process (start-up, imports and model loading included), median of {a['repeats']} interleaved runs after a warm-up; "
                     "peak memory is the process's own VmHWM.")
    lines += ["", markdown_footer(result["provenance"]), ""]
    return "\n".join(lines)


def plot(result: dict, path: Path) -> None:
    from timbrelab import plots

    n = 2 * ("apply" in result) + ("classify" in result)
    if n == 0:
        return
    fig, axes = plots.subplots(1, n, figsize=(4.2 * n, 3.4), squeeze=False)
    axes = list(axes[0])
    if "apply" in result:
        a = result["apply"]["apply"]
        words = list(a)
        t_map = a[MAP_WORD]["median_wall_s"]
        ax = axes.pop(0)
        ax.bar(words, [a[w]["median_wall_s"] for w in words], color=["#08519c"] + ["#a50f15"] * (len(words) - 1))
        ax.axhline(MAX_MODEL_TIME_FACTOR * t_map + MAX_MODEL_EXTRA_S, color="k", ls="--", lw=0.8, label="target")
        ax.set(ylabel="wall time (s)", title="timbrelab apply (fresh process)")
        ax.legend(fontsize=7)
        ax = axes.pop(0)
        ax.bar(words, [a[w]["median_peak_rss_mb"] for w in words], color=["#08519c"] + ["#a50f15"] * (len(words) - 1))
        ax.axhline(MAX_MODEL_RSS_MB, color="k", ls="--", lw=0.8, label="target")
        ax.set(ylabel="peak memory (MB)", title="timbrelab apply")
        ax.legend(fontsize=7)
    if "classify" in result:
        c = result["classify"]["classify"]
        ax = axes.pop(0)
        mins = [d["duration_s"] / 60 for d in c.values()]
        peaks = [d["median_peak_rss_mb"] for d in c.values()]
        ax.plot(mins, peaks, "o-")
        ax.set(xlabel="file length (min)", ylabel="peak memory (MB)", title="timbrelab classify", ylim=(0, 1.2 * max(peaks)))
    fig.tight_layout()
    plots.save(fig, path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    """``python -m timbrelab.bench.speed [options]``: the same as ``timbrelab bench speed``."""
    p = argparse.ArgumentParser(prog="timbrelab bench speed", description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    argv = sys.argv[1:] if argv is None else argv
    return run(p.parse_args(argv), argv)


if __name__ == "__main__":
    sys.exit(main())
