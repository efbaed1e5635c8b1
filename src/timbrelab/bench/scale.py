"""`timbrelab bench scale`: a whole library — batches on 1 and 2 workers and on Ray, resuming, the search index.

Sections (``--only`` picks some):

- **throughput** — ``timbrelab apply DIR -o OUT "warm, small room"`` and ``timbrelab classify DIR -o
  labels.json`` on a folder of ``--files`` rendered clips (``--seconds`` each, stereo 44.1 kHz 16-bit
  WAV: the 28 instrument classes in turn, each a seeded phrase of the training renderer on the
  TimGM6mb soundfont), each as a fresh process, with ``--workers 1`` (this process, PyTorch on every
  core), the same with ``OMP_NUM_THREADS=1`` (one single-threaded process), ``--workers 2``
  (worker processes) and ``--ray`` with 1 and 2 workers (a local Ray instance, started by the command:
  its start-up is in the time). Files/s = files ÷ the command's wall time (start-up, imports and model
  loading included: what a user waits for), median of ``--repeats`` runs; each command also runs on
  the first half of the files, and the *steady* rate — (files − half) ÷ (time for all − time for
  half) — is the rate once started, without the fixed start-up (imports, models, worker processes,
  Ray), which is what a library of 100,000 files sees. Every executor's outputs are compared byte for
  byte with the one-process run's. Ray's overhead per file = steady time per file on Ray with 1
  worker (one CPU, one thread) − in one single-threaded process; Ray's start-up is measured apart
  (``ray.init`` + one task).
  Target (issue 17): 2 workers ≥ 1.7 × the steady files/s of 1 process (the machine has 2 cores), read
  two ways: against the default process (which may already use both cores through PyTorch's threads)
  and against one single-threaded process (what each worker is).
- **resume** — ``apply`` on the folder with ``--workers 2`` is stopped with SIGTERM (what ``kill`` sends)
  once half the files are done, then run again: the second run's "already done" count, the files it
  processed, and how many files were processed twice (manifest lines beyond one per file: target 0).
- **index** — ``timbrelab index`` of the folder with the default embedder (time per 1,000 files, 1 and
  2 workers; whole command and steady, from the half and the whole folder as above) and the vector index itself at 10k, 100k and 1M vectors (``timbrelab.probe.ann``:
  seeded synthetic vectors shaped like embeddings; build time, query latency one query at a time,
  recall@10 against exact search). Targets: latency < 50 ms and recall@10 ≥ 0.95 at 1M.

- **cost model** (derived, nothing measured) — how long a 10-million-file library takes on a 32-node
  cluster of 2-core machines like this one: each command's steady rate on 2 workers (Ray's where
  measured) × 32, the storage read rate that needs, and the vector index built on one node (the largest
  measured build extrapolated at ~log n per vector), with its assumptions. ``--rerender`` rebuilds it
  (and the markdown and plot) from an existing report without measuring.

Writes ``reports/scale/bench_scale.json`` (with provenance), ``bench_scale.md`` and ``bench_scale.png``.
Run the CPU-bound figures on an otherwise idle machine: they measure the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

DEFAULT_OUT = "reports/scale"
DESCRIPTION = __doc__.split("\n\n")[0].split(": ", 1)[1]
EPILOG = """\
examples:
  timbrelab bench scale                                   # every section (about 30 min on 2 cores)
  timbrelab bench scale --only throughput --files 32      # quicker
  timbrelab bench scale --only index --max-vectors 100000 # the vector index without the 1M point
"""
#: targets (issue 17)
MIN_SPEEDUP_2_WORKERS = 1.7
MAX_LATENCY_MS_1M, MIN_RECALL_1M = 50.0, 0.95
APPLY_WORDS = "warm, small room"
#: the executors of the throughput section: name → extra CLI options. "1 process" is what a user gets by
#: default: one process whose PyTorch runs on every core; "1 process, 1 thread" is one single-threaded
#: worker's rate (OMP_NUM_THREADS=1, see THREAD_ENV), the unit the 2 workers (1 thread each) are made of.
EXECUTORS = {"1 process": [], "1 process, 1 thread": [], "2 workers": ["--workers", "2"],
             "Ray, 1 worker": ["--ray", "--workers", "1"], "Ray, 2 workers": ["--ray", "--workers", "2"]}
#: environment overrides per executor row (every other row runs with the thread variables unset, so a
#: bench started under OMP_NUM_THREADS=1 still measures the default)
THREAD_ENV = {"1 process, 1 thread": {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}}
_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def _env(overrides: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in _THREAD_VARS}
    return {**env, **(overrides or {})}


def _cli(args: list[str], env: dict | None = None, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "timbrelab", *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env(env), **kw)


def _timed(args: list[str], env: dict | None = None) -> tuple[float, str, str, int]:
    t0 = time.perf_counter()
    p = _cli(args, env)
    out, err = p.communicate()
    return time.perf_counter() - t0, out, err, p.returncode


def make_library(folder: Path, files: int, seconds: float, progress: Callable[[str], None] = lambda s: None) -> dict:
    """``files`` rendered clips in ``folder`` (the instrument classes in turn, a seeded phrase each)."""
    import numpy as np

    from timbrelab.audio import write_audio
    from timbrelab.sounds.playing import make_performance, styles_for
    from timbrelab.sounds.render import Renderer
    from timbrelab.sounds.taxonomy import INSTRUMENTS

    folder.mkdir(parents=True, exist_ok=True)
    pitched = [i for i in INSTRUMENTS if i.programs]
    with Renderer("TimGM6mb", sample_rate=44100) as r:
        for k in range(files):
            inst = pitched[k % len(pitched)]
            style = "phrase" if "phrase" in styles_for(inst) else styles_for(inst)[0]
            audio = r.render(inst.programs[0], make_performance(inst, style, seed=k, duration_s=seconds), tail_s=0.3)
            audio = audio[:, : int(seconds * 44100)]
            peak = float(np.max(np.abs(audio))) or 1.0
            write_audio(folder / f"{k:04d}_{inst.name.replace(' ', '_')}.wav", (0.5 * audio / peak).astype(np.float32), 44100, bit_depth="16")
            progress(f"rendering {k + 1}/{files}")
    return {"files": files, "seconds_each": seconds, "format": "WAV 16-bit stereo 44.1 kHz", "soundfont": "TimGM6mb",
            "instruments": len(pitched)}


def _outputs(folder: Path) -> dict:
    from timbrelab.io_utils import file_sha256

    return {p.name: file_sha256(p) for p in sorted(folder.iterdir()) if not p.name.startswith(".")}


def _half_library(lib: Path) -> Path:
    """The first half of the library's files, hard-linked into a sibling folder (made once)."""
    half = lib.parent / "library-half"
    if not half.exists():
        half.mkdir()
        files = sorted(p for p in lib.iterdir() if p.suffix == ".wav")
        for p in files[: len(files) // 2]:
            os.link(p, half / p.name)
    return half


def measure_throughput(args, lib: Path, work: Path, progress: Callable[[str], None]) -> dict:
    n = len([p for p in lib.iterdir() if p.suffix == ".wav"])
    half = _half_library(lib)
    sizes = {"half": (half, n // 2), "full": (lib, n)}
    rows: dict = {"apply": {}, "classify": {}}
    reference: dict = {}
    for rep in range(args.repeats):
        for name, extra in EXECUTORS.items():
            if "Ray" in name and args.no_ray:
                continue
            for cmd in ("apply", "classify"):
                for size, (folder, count) in sizes.items():
                    progress(f"throughput: {cmd} of {count} files on {name} ({rep + 1}/{args.repeats})")
                    tag = f"{cmd}-{size}-{name.replace(' ', '').replace(',', '')}-{rep}"
                    if cmd == "apply":
                        out = work / tag
                        wall, o, e, code = _timed(["apply", folder, "-o", out, APPLY_WORDS, "-q", *extra], THREAD_ENV.get(name))
                        produced = _outputs(out)
                    else:
                        out = work / f"{tag}.json"
                        wall, o, e, code = _timed(["classify", folder, "-o", out, "--json", *extra], THREAD_ENV.get(name))
                        produced = {"labels.json": out.read_bytes() if out.exists() else b""}
                    if code != 0:
                        raise RuntimeError(f"{cmd} on {name} failed ({code}): {e.strip().splitlines()[-1] if e.strip() else o[-300:]}")
                    r = rows[cmd].setdefault(name, {"wall_s": {"half": [], "full": []}, "identical_to_1_process": True})
                    r["wall_s"][size].append(round(wall, 3))
                    if size == "full":
                        reference.setdefault(cmd, produced)
                        r["identical_to_1_process"] &= produced == reference[cmd] and len(produced) > 0
    for cmd, by in rows.items():
        for name, r in by.items():
            t_half, t_full = (statistics.median(r["wall_s"][k]) for k in ("half", "full"))
            r["median_wall_s"] = {"half": round(t_half, 3), "full": round(t_full, 3)}
            r["files_per_s"] = round(n / t_full, 3)  # the whole command, start-up included
            r["marginal_files_per_s"] = round((n - n // 2) / max(t_full - t_half, 1e-3), 3)  # start-up excluded
            r["startup_s"] = round(t_half - (n // 2) / r["marginal_files_per_s"], 2)
        base, single = by["1 process"], by["1 process, 1 thread"]
        for name, r in by.items():
            r["speedup_vs_1_process"] = round(r["files_per_s"] / base["files_per_s"], 3)
            r["marginal_speedup_vs_1_process"] = round(r["marginal_files_per_s"] / base["marginal_files_per_s"], 3)
            r["marginal_speedup_vs_1_thread"] = round(r["marginal_files_per_s"] / single["marginal_files_per_s"], 3)
    result = {"files": n, "half": n // 2, "repeats": args.repeats, **rows}
    if "Ray, 1 worker" in rows["apply"]:
        result["ray_overhead_s_per_file"] = ray_overhead(result)
    if not args.no_ray:
        result["ray_startup_s"] = ray_startup_s()
    # what one process already gets from the second core (its PyTorch/NumPy threads): 2 workers of one
    # thread each can reach at most 2 ÷ this over the default process
    result["threads_speedup_1_process"] = {cmd: round(rows[cmd]["1 process"]["marginal_files_per_s"] / rows[cmd]["1 process, 1 thread"]["marginal_files_per_s"], 3)
                                           for cmd in rows}
    sp = {cmd: rows[cmd]["2 workers"]["marginal_speedup_vs_1_process"] for cmd in rows}
    sp1 = {cmd: rows[cmd]["2 workers"]["marginal_speedup_vs_1_thread"] for cmd in rows}
    result["targets"] = {f"{cmd}_speedup_2_workers": f"2 workers ≥ {MIN_SPEEDUP_2_WORKERS}× the files/s of 1 process, start-up excluded "
                                                      f"(measured {sp[cmd]:.2f}×; whole command {rows[cmd]['2 workers']['speedup_vs_1_process']:.2f}×)" for cmd in rows}
    result["targets_met"] = {f"{cmd}_speedup_2_workers": sp[cmd] >= MIN_SPEEDUP_2_WORKERS for cmd in rows}
    for cmd in rows:
        result["targets"][f"{cmd}_scaling_2_workers"] = (f"2 workers ≥ {MIN_SPEEDUP_2_WORKERS}× one single-threaded process, start-up excluded "
                                                         f"(measured {sp1[cmd]:.2f}×)")
        result["targets_met"][f"{cmd}_scaling_2_workers"] = sp1[cmd] >= MIN_SPEEDUP_2_WORKERS
    identical = all(r["identical_to_1_process"] for by in rows.values() for r in by.values())
    result["targets"]["identical_outputs"] = "every executor's outputs byte-identical to the one-process run's"
    result["targets_met"]["identical_outputs"] = identical
    return result


def ray_startup_s() -> float | None:
    """Seconds for ``ray.init`` (a local instance) and one trivial task, in a fresh process."""
    code = ("import time; t=time.perf_counter(); import ray; ray.init(include_dashboard=False, log_to_driver=False, "
            "logging_level='ERROR'); ray.get(ray.remote(lambda: 1).remote()); print(time.perf_counter()-t); ray.shutdown()")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    try:
        return round(float(p.stdout.strip().splitlines()[-1]), 2)
    except (ValueError, IndexError):
        return None


def measure_resume(args, lib: Path, work: Path, progress: Callable[[str], None]) -> dict:
    from timbrelab.batch import MANIFEST_NAME

    n = len([p for p in lib.iterdir() if p.suffix == ".wav"])
    out = work / "resume"
    manifest = out / MANIFEST_NAME
    progress("resume: first run, stopped half-way")
    p = _cli(["apply", lib, "-o", out, APPLY_WORDS, "-q", "--workers", "2"])
    deadline = time.monotonic() + 600
    lines = lambda: max(0, len(manifest.read_text().splitlines()) - 1) if manifest.exists() else 0
    while lines() < n // 2 and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    p.send_signal(signal.SIGTERM)
    _, err1 = p.communicate()
    done_first = lines()
    leftovers = [q.name for q in out.iterdir() if q.name.startswith(".") and q.name != MANIFEST_NAME]
    progress("resume: second run")
    wall, o, e, code = _timed(["apply", lib, "-o", out, APPLY_WORDS, "-q", "--workers", "2"])
    import re

    m = re.search(r"summary: (\d+) of (\d+) files? processed, (\d+) failed, \d+ skipped(?:; (\d+) already done)?", o)
    processed2, already = (int(m.group(1)), int(m.group(4) or 0)) if m else (None, None)
    entries = manifest.read_text().splitlines()[1:]
    inputs = [json.loads(x)["input"] for x in entries]
    twice = len(inputs) - len(set(inputs))
    result = {"files": n, "stopped_after": done_first, "first_run_exit": p.returncode, "temporary_files_left": leftovers,
              "second_run_already_done": already, "second_run_processed": processed2, "processed_twice": twice,
              "all_outputs_present": len(_outputs(out)) == n}
    ok = twice == 0 and already == done_first and processed2 == n - done_first and not leftovers and result["all_outputs_present"]
    result["targets"] = {"resume_no_work_twice": f"a batch stopped half-way and rerun processes no file twice (measured: {twice} twice; "
                                                 f"{already} already done + {processed2} processed of {n})"}
    result["targets_met"] = {"resume_no_work_twice": bool(ok)}
    return result


def measure_index(args, lib: Path, work: Path, progress: Callable[[str], None]) -> dict:
    from timbrelab.probe.ann import ann_benchmark

    n = len([p for p in lib.iterdir() if p.suffix == ".wav"])
    half = _half_library(lib)
    build = {}
    for name, extra in (("1 process", []), ("2 workers", ["--workers", "2"])):
        walls = {}
        for size, folder in (("half", half), ("full", lib)):
            progress(f"index: timbrelab index of the {size} library on {name}")
            wall, o, e, code = _timed(["index", folder, "--index", work / f"index-{size}-{name.replace(' ', '')}", *extra])
            if code != 0:
                raise RuntimeError(f"index on {name} failed ({code}): {e.strip()[-300:]}")
            walls[size] = wall
        steady = (walls["full"] - walls["half"]) / (n - n // 2)
        build[name] = {"wall_s": round(walls["full"], 3), "s_per_1000_files": round(1000 * walls["full"] / n, 1),
                       "steady_s_per_1000_files": round(1000 * steady, 1)}
    dim = _embedding_dim()
    ann = {}
    for size in (10_000, 100_000, 1_000_000):
        if size > args.max_vectors:
            continue
        progress(f"index: {size:,} vectors")
        ann[str(size)] = ann_benchmark(size, dim, queries=args.queries, seed=0)
    result = {"files": n, "build": build, "dim": dim, "vectors": ann}
    big = ann.get("1000000")
    result["targets"] = {"latency_1m": f"query latency < {MAX_LATENCY_MS_1M:g} ms at 1M vectors"
                                       + (f" (measured {big['latency_ms_mean']:.2f} ms mean, {big['latency_ms_p95']:.2f} ms p95)" if big else " (not run)"),
                         "recall_1m": f"recall@10 ≥ {MIN_RECALL_1M} at 1M vectors" + (f" (measured {big['recall_at_10']:.3f})" if big else " (not run)")}
    result["targets_met"] = {"latency_1m": bool(big) and big["latency_ms_mean"] < MAX_LATENCY_MS_1M,
                             "recall_1m": bool(big) and big["recall_at_10"] >= MIN_RECALL_1M}
    return result


def _embedding_dim() -> int:
    from timbrelab.service import Service

    with Service() as s:
        return int(s.embedder_info()["dim"])


def ray_overhead(t: dict) -> dict:
    """Ray's overhead per file, steady: a Ray worker against the same work on one thread in one process
    (``--ray --workers 1`` gives its one actor one CPU, hence one thread)."""
    return {cmd: round(1 / t[cmd]["Ray, 1 worker"]["marginal_files_per_s"] - 1 / t[cmd]["1 process, 1 thread"]["marginal_files_per_s"], 4)
            for cmd in ("apply", "classify")}


#: the cost model's library and cluster (issue 17)
COST_FILES, COST_NODES = 10_000_000, 32


def cost_model(result: dict, files: int = COST_FILES, nodes: int = COST_NODES) -> dict | None:
    """How long ``files`` files take on ``nodes`` 2-core machines like this one, from the measured steady
    rates (an estimate: its assumptions are in the returned dict and the report). None without the
    throughput section."""
    import math

    t = result.get("throughput")
    if not t:
        return None
    seconds_each = result["library"]["seconds_each"]
    bytes_per_file = seconds_each * 44100 * 2 * 2  # the bench's WAV: 16-bit stereo 44.1 kHz
    ray = "Ray, 2 workers" in t["apply"]
    row = "Ray, 2 workers" if ray else "2 workers"
    rows = {}
    for cmd in ("apply", "classify"):
        node = t[cmd][row]["marginal_files_per_s"]
        rows[cmd] = {"node_files_per_s": round(node, 2), "from": f"{cmd}, {row}, steady"}
    ix = result.get("index")
    if ix and "2 workers" in ix.get("build", {}):
        node = 1000 / ix["build"]["2 workers"]["steady_s_per_1000_files"]
        # index was timed on the worker pool only: on Ray, scale it by what Ray's 2 workers kept of the pool's rate on classify
        # (the other model-bound command)
        eff = t["classify"]["Ray, 2 workers"]["marginal_files_per_s"] / t["classify"]["2 workers"]["marginal_files_per_s"] if ray else 1.0
        rows["index (embedding)"] = {"node_files_per_s": round(node * min(eff, 1.0), 2),
                                     "from": "index, 2 workers, steady" + (f" × {min(eff, 1.0):.3f} (Ray's 2 workers ÷ the pool's, on classify)" if ray else "")}
    for r in rows.values():
        cluster = r["node_files_per_s"] * nodes
        r["cluster_files_per_s"] = round(cluster, 1)
        r["hours"] = round(files / cluster / 3600, 2)
        r["read_mb_per_s"] = round(cluster * bytes_per_file / 1e6)
    out = {"files": files, "nodes": nodes, "cores_per_node": 2, "seconds_each": seconds_each, "commands": rows}
    biggest = max((int(k) for k in (ix or {}).get("vectors", {})), default=0)
    if biggest:
        v = ix["vectors"][str(biggest)]
        scale = math.log(files) / math.log(biggest)  # HNSW insertion ~ log n per vector
        out["vector_index"] = {"from_vectors": biggest, "build_hours": round(v["build_s_per_1000"] * files / 1000 * scale / 3600, 2),
                               "memory_gb": round(v["index_bytes"] * files / biggest / 1e9, 1), "measured_latency_ms_mean": v["latency_ms_mean"]}
    out["assumptions"] = [
        f"every node is a 2-core machine like the one measured, running {row} (its steady rate here, start-up excluded; the cluster's "
        "start-up — seconds — is left out)",
        f"files like the bench's ({seconds_each:g} s stereo 44.1 kHz WAV); the time per file grows with its length, so scale the hours by "
        f"(mean length ÷ {seconds_each:g} s)",
        f"linear scaling over {nodes} nodes: no shared bottleneck — the storage must deliver the read rate in the table (and as much "
        "again for apply's outputs); a slower storage sets the time instead",
        "the vector index is built on one node after the embedding (usearch inserts ~log n per vector: the largest measured size "
        "extrapolated); its memory is the measured bytes per vector",
        "no failures, retries or stragglers (a failed file is retried by rerunning the command, which does only what is missing)",
    ]
    return out


def _cost_rows(c: dict) -> list[str]:
    lines = [f"**Cost model** (an estimate from the steady rates above, not a measurement): {c['files']:,} files on {c['nodes']} nodes of "
             f"{c['cores_per_node']} cores.", "",
             "| command | per node (files/s) | cluster (files/s) | time | storage read | from |", "|---|---|---|---|---|---|"]
    for cmd, r in c["commands"].items():
        lines.append(f"| {cmd} | {r['node_files_per_s']:.1f} | {r['cluster_files_per_s']:,.0f} | **{r['hours']:.1f} h** | {r['read_mb_per_s']:,} MB/s | {r['from']} |")
    if "vector_index" in c:
        v = c["vector_index"]
        lines.append(f"| vector index (one node) | | | **{v['build_hours']:.1f} h** | {v['memory_gb']} GB in memory | {v['from_vectors']:,}-vector build, extrapolated |")
    lines += ["", "Assumptions: " + "; ".join(c["assumptions"]) + ".", ""]
    return lines


SECTIONS = {"throughput": measure_throughput, "resume": measure_resume, "index": measure_index}


def register(sub) -> None:
    p = sub.add_parser("scale", help="batches on 1 and 2 workers and on Ray, resuming, the search index at 10k–1M vectors",
                       description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    p.set_defaults(func=run)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--only", action="append", choices=sorted(SECTIONS), help="run only this section (repeatable; default all)")
    p.add_argument("--files", type=int, default=384, help="rendered clips in the library folder (default 384; the throughput rows also run on the first half)")
    p.add_argument("--seconds", type=float, default=5.0, help="length of each clip (default 5 s)")
    p.add_argument("--repeats", type=int, default=3, help="runs per (command, executor); the median is reported (default 3)")
    p.add_argument("--no-ray", action="store_true", help="leave out the Ray rows (e.g. where the extra is not installed)")
    p.add_argument("--max-vectors", type=int, default=1_000_000, help="largest vector-index size measured (default 1,000,000)")
    p.add_argument("--queries", type=int, default=200, help="queries per vector-index size (default 200)")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"folder for bench_scale.json/.md/.png (default {DEFAULT_OUT})")
    p.add_argument("--rerender", action="store_true",
                   help="measure nothing: rebuild the markdown, the plot and the derived figures (the cost model) from OUT/bench_scale.json")


def run(args, argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    from timbrelab.bench.provenance import report_provenance, write_report
    from timbrelab.errors import BadParameterError
    if args.rerender:
        return rerender(Path(args.out), argv)
    if not (4 <= args.files <= 100_000) or not (1.0 <= args.seconds <= 60) or not (1 <= args.repeats <= 20):
        raise BadParameterError("--files 4…100000, --seconds 1…60, --repeats 1…20")
    if not args.no_ray:
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            raise BadParameterError('the Ray rows need the extra (pip install "timbrelab[ray]"), or give --no-ray')
    names = args.only or list(SECTIONS)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": "scale", "provenance": report_provenance("scale", args, argv, packages=("usearch", "ray")),
              "sections": names, "targets": {}, "targets_met": {}}
    bar = tqdm(desc="bench scale", bar_format="{desc}: {elapsed} {postfix}")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="timbrelab-bench-scale-") as tmp:
        tmp = Path(tmp)
        if {"throughput", "resume", "index"} & set(names):
            result["library"] = make_library(tmp / "library", args.files, args.seconds, lambda s: bar.set_postfix_str(s))
        for name in names:
            r = SECTIONS[name](args, tmp / "library", tmp, lambda s: bar.set_postfix_str(s))
            result["targets"].update(r.pop("targets"))
            result["targets_met"].update(r.pop("targets_met"))
            result[name] = r
    bar.close()
    result["bench_wall_s"] = round(time.perf_counter() - t0, 1)
    cost = cost_model(result)
    if cost:
        result["cost_model"] = cost
    write_report(out_dir, "scale", result, markdown(result), plot)
    return 0


def rerender(out_dir: Path, argv: list[str] | None = None) -> int:
    """``--rerender``: the report rebuilt from its JSON (derived figures recomputed, nothing measured)."""
    import json

    from timbrelab.bench.provenance import write_report
    from timbrelab.errors import BadParameterError
    from timbrelab.provenance import command_line, provenance

    path = out_dir / "bench_scale.json"
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadParameterError(f"--rerender needs a report to rebuild: {path} ({exc.__class__.__name__})") from None
    if result.get("benchmark") != "scale":
        raise BadParameterError(f"{path} is not a bench scale report")
    t = result.get("throughput", {})
    if "Ray, 1 worker" in t.get("apply", {}) and "1 process, 1 thread" in t["apply"]:
        t["ray_overhead_s_per_file"] = ray_overhead(t)
    cost = cost_model(result)
    if cost:
        result["cost_model"] = cost
    p = provenance(command_line("scale", argv))
    result["rerendered"] = {"command": p["command"], "commit": p["git"]["commit"] or "?", "date_utc": p["date_utc"]}
    write_report(out_dir, "scale", result, markdown(result), plot)
    return 0


def markdown(result: dict) -> str:
    from timbrelab.bench.provenance import markdown_footer

    lines = []
    if "throughput" in result:
        t = result["throughput"]
        lines += [f"**Throughput** on {t['files']} files of {result['library']['seconds_each']:g} s (and on the first {t['half']}): each run a fresh process, "
                  f"median of {t['repeats']}. *Files/s* is the whole command ({t['files']} files ÷ wall time, start-up included); *steady* is "
                  f"the rate once started, ({t['files']} − {t['half']}) ÷ (time for {t['files']} − time for {t['half']}), what a large library sees.", "",
                  "| executor | apply files/s | steady | × 1 process / × 1 thread (steady) | classify files/s | steady | × 1 process / × 1 thread (steady) | start-up (apply / classify) | outputs identical |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for name, a in t["apply"].items():
            c = t["classify"][name]
            lines.append(f"| {name} | {a['files_per_s']:.2f} | {a['marginal_files_per_s']:.2f} | {a['marginal_speedup_vs_1_process']:.2f}× / {a.get('marginal_speedup_vs_1_thread', float('nan')):.2f}× | "
                         f"{c['files_per_s']:.2f} | {c['marginal_files_per_s']:.2f} | {c['marginal_speedup_vs_1_process']:.2f}× / {c.get('marginal_speedup_vs_1_thread', float('nan')):.2f}× | "
                         f"{a['startup_s']:.1f} s / {c['startup_s']:.1f} s | {'yes' if a['identical_to_1_process'] and c['identical_to_1_process'] else 'NO'} |")
        if "threads_speedup_1_process" in t:
            ts = t["threads_speedup_1_process"]
            lines.append(f"\nOne process on every core against one thread (steady): apply {ts['apply']:.2f}×, classify {ts['classify']:.2f}× — "
                         f"so 2 single-threaded workers can reach at most {2 / ts['apply']:.2f}× (apply) and {2 / ts['classify']:.2f}× (classify) "
                         "of the default process on this machine's cores.")
        if "ray_overhead_s_per_file" in t:
            o = t["ray_overhead_s_per_file"]
            lines.append(f"\nRay's overhead per file, steady (Ray with 1 worker − 1 process on 1 thread): apply {o['apply'] * 1000:+.0f} ms, classify {o['classify'] * 1000:+.0f} ms; "
                         f"Ray's own start-up (init + one task, a fresh process): {t.get('ray_startup_s')} s.")
        lines.append("")
    if "resume" in result:
        r = result["resume"]
        lines += [f"**Resume**: `apply --workers 2` on {r['files']} files stopped with SIGTERM after {r['stopped_after']}; the rerun found "
                  f"{r['second_run_already_done']} already done, processed {r['second_run_processed']}, and processed {r['processed_twice']} file(s) twice; "
                  f"temporary files left: {len(r['temporary_files_left'])}.", ""]
    if "index" in result:
        ix = result["index"]
        b = ix["build"]
        lines += [f"**Index** of the {ix['files']} files (default embedder, {ix['dim']}-d): "
                  + ", ".join(f"{k} {v['s_per_1000_files']:.0f} s per 1,000 files for the whole command, {v['steady_s_per_1000_files']:.0f} s once started"
                              for k, v in b.items()) + ".", "",
                  "| vectors | build (s) | build per 1,000 (s) | index size (MB) | latency mean / p95 (ms) | recall@10 |", "|---|---|---|---|---|---|"]
        for size, v in ix["vectors"].items():
            lines.append(f"| {int(size):,} | {v['build_s']:.1f} | {v['build_s_per_1000']:.3f} | {v['index_bytes'] / 1e6:.0f} | "
                         f"{v['latency_ms_mean']:.2f} / {v['latency_ms_p95']:.2f} | {v['recall_at_10']:.3f} |")
        lines.append("")
    if result.get("cost_model"):
        lines += _cost_rows(result["cost_model"])
    for k, text in result["targets"].items():
        lines.append(f"- target {k}: {text} — **{'met' if result['targets_met'][k] else 'NOT met'}**")
    lines += ["", markdown_footer(result["provenance"])]
    if result.get("rerendered"):
        lines.append(f"(Report re-rendered from this run's measurements by `{result['rerendered']['command']}` at commit "
                     f"{result['rerendered']['commit'][:10]}, {result['rerendered']['date_utc']}: derived figures — Ray's overhead per file, the cost model — recomputed; nothing re-measured.)")
    lines.append("")
    return "\n".join(lines)


def plot(result: dict, path: Path) -> None:
    from timbrelab import plots

    panels = [k for k in ("throughput", "index") if k in result]
    if not panels:
        return
    fig, axes = plots.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.6), squeeze=False)
    axes = list(axes[0])
    if "throughput" in result:
        import numpy as np

        t = result["throughput"]
        names = list(t["apply"])
        x = np.arange(len(names))
        ax = axes.pop(0)
        ax.bar(x - 0.2, [t["apply"][k]["marginal_files_per_s"] for k in names], 0.4, label="apply")
        ax.bar(x + 0.2, [t["classify"][k]["marginal_files_per_s"] for k in names], 0.4, label="classify")
        ax.set_xticks(x, names, fontsize=7, rotation=20, ha="right")
        ax.set(ylabel="files / s (steady)", title=f"throughput once started ({t['files']} files, 2 cores)")
        ax.legend(fontsize=8)
    if "index" in result:
        v = result["index"]["vectors"]
        ax = axes.pop(0)
        sizes = [int(s) for s in v]
        ax.plot(sizes, [v[s]["latency_ms_mean"] for s in v], "o-", label="latency mean (ms)")
        ax.plot(sizes, [v[s]["latency_ms_p95"] for s in v], "s--", label="latency p95 (ms)")
        ax.axhline(MAX_LATENCY_MS_1M, color="k", ls=":", lw=0.8, label="target (1M)")
        ax.set(xscale="log", xlabel="vectors", ylabel="ms per query", title="search index (usearch HNSW)")
        ax2 = ax.twinx()
        ax2.plot(sizes, [v[s]["recall_at_10"] for s in v], "^-", color="tab:green", label="recall@10")
        ax2.set(ylim=(0.8, 1.0), ylabel="recall@10")
        ax.legend(fontsize=7, loc="upper left")
        ax2.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    plots.save(fig, path, dpi=110)
