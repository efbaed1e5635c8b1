"""`timbrelab bench timbre-cnn`: the timbre CNNs of Pons et al. (2017) and their baselines, trained on
the augmented multi-source corpus and tested on a held-out soundfont and on real recordings.

Training data = the recipe's (``timbrelab/recipes/timbre-cnn.toml``, read here so the bench trains
exactly what ``timbrelab train timbre-cnn`` ships): a corpus rendered from the training sources
(``sounds.corpus``: FluidR3_GM, TimGM6mb, sf_GMbank, freepats; varied playing; a "no instrument"
class) and one augmented copy of every clip (``sounds.augment``). Validation = the clips of one
training source (the recipe's ``validation_source``): a cross-source check that chooses the epoch
and the architecture. Tests, never used to train, select or stop:

- ``notes`` / ``phrases``: a corpus of the held-out soundfont MuseScore_General (single notes;
  every other playing style), dry; accuracy and macro-F1 over the taxonomy;
- ``mixes``: 2–3 MuseScore phrases at once (multi-label, threshold 0.2 as the paper);
- ``medley`` (97 real solo recordings, Medley-solos-DB) and ``debian`` (25 real instrument samples):
  top-1 and top-3 over the full taxonomy ("no instrument" counts as a wrong answer) and macro-F1
  over the set's classes;
- ``none``: MuseScore drums/effects/noise/silence and 30 real non-instrument sounds — the fraction
  answered "no instrument".

Every model is trained with ``--seeds`` (default 0 1 2) and reported as mean ± sd; the architecture
with the best mean validation accuracy is the one the recipe ships. Each finished (model, seed) run
is saved under ``--runs`` (with a key of everything it depends on), so an interrupted bench resumes
(a run cut off mid-way resumes from its last finished epoch: ``<run>.state.safetensors``).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from timbrelab.bench.seeds import change_cell, mean_sd, welch_t
from timbrelab.parallel import Task

DEFAULT_OUT = "reports/timbre_cnn"
DEFAULT_RUNS = "runs/bench-timbre-cnn"
PAPER_IRMAS = [("single-layer", 62_000, 0.559, 0.484), ("multi-layer", 743_000, 0.589, 0.516), ("Han et al. (2017)", 1_446_000, 0.602, 0.503)]
QUICK_INSTRUMENTS = ("violin", "flute", "piano", "trumpet")
REAL_TESTS = ("medley", "debian")


def register(sub) -> None:
    p = sub.add_parser(
        "timbre-cnn",
        help="instrument recognition CNNs (Pons et al. 2017) vs baselines: held-out soundfont and real recordings",
        description=(
            "Train the single-layer and multi-layer timbre CNNs of Pons et al. (2017) and the small-rectangular "
            "and Dieleman baselines on the recipe's augmented multi-source corpus, several seeds each; choose "
            "by validation accuracy on a held-out training source; test on the held-out soundfont (notes, phrases, "
            "mixtures), on real recordings (Medley-solos-DB, Debian samples) and on non-instrument sounds."
        ),
        epilog=(
            "examples:\n"
            "  timbrelab bench timbre-cnn                                   # all six models, seeds 0 1 2\n"
            "  timbrelab bench timbre-cnn --models small-rect-1x --seeds 0\n"
            "  timbrelab bench timbre-cnn --quick --models dieleman-1x      # check the pipeline (~2 min)\n"
            "  timbrelab bench timbre-cnn --runs runs/bench-timbre-cnn-v3 --reference runs/bench-timbre-cnn small-rect-1x ...\n"
        ),
    )
    p.add_argument("--json", metavar="FILE", help=f"JSON output (default {DEFAULT_OUT}/bench_timbre_cnn.json)")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"folder for the markdown table and PNGs (default {DEFAULT_OUT})")
    p.add_argument("--runs", default=DEFAULT_RUNS, help=f"folder of finished (model, seed) runs, for resuming (default {DEFAULT_RUNS})")
    p.add_argument("--models", nargs="+", metavar="NAME", help="only these configurations (default: all six)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], metavar="N", help="training seeds (default 0 1 2)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe value, e.g. train.max_epochs=4")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="train the unfinished runs side by side in N processes (cores ÷ N torch threads each; default 1: one after "
                        "the other, here). Memory: about 2 GB a process")
    p.add_argument("--quick", action="store_true", help="a tiny run (4 instruments, small corpus, 1 epoch) to check the pipeline")
    p.add_argument("--evaluate", nargs="+", metavar="CHECKPOINT",
                   help="train nothing: score this timbre-CNN checkpoint ('shipped': the packaged one) on every test set; "
                        "several: their ensemble (the mean of their probabilities)")
    p.add_argument("--reference", nargs=2, metavar=("RUNS", "MODEL"),
                   help="compare every model with MODEL's finished runs of the same seeds in the folder RUNS: the change of "
                        "each mean and Welch's t (e.g. --reference runs/bench-timbre-cnn small-rect-1x: against the recipe's runs)")
    p.add_argument("--validation", action="store_true",
                   help="with --evaluate: score the recipe's validation clips too (builds the recipe's corpus if it is not cached)")
    p.set_defaults(func=run)


def recipe(args) -> dict:
    from timbrelab.ml.recipes import load_recipe

    overrides = list(args.set)
    if args.quick:
        inst = list(QUICK_INSTRUMENTS)
        overrides += [f"train.data.corpus.instruments={inst}", "train.data.corpus.clips_per_class=6", "train.data.corpus.no_instrument_clips=8",
                      "train.data.corpus.name='cnn-quick-corpus'", "train.data.augmented.name='cnn-quick-augmented'",
                      "train.max_epochs=1", "train.epoch_clips=64", "train.validation_clips_per_class=3"]
    return load_recipe("timbre-cnn", overrides=overrides)


def test_specs(quick: bool = False) -> dict:
    from timbrelab.sounds.corpus import CorpusSpec
    from timbrelab.sounds.datasets import MixSetSpec

    inst = QUICK_INSTRUMENTS if quick else None
    return {
        "test_corpus": CorpusSpec("cnn-test-corpus" + ("-quick" if quick else ""), None, inst, clips_per_class=3 if quick else 16,
                                  no_instrument_clips=4 if quick else 48, seed=1, purpose="test"),
        "test_mixes": MixSetSpec("cnn-test-mixes" + ("-quick" if quick else ""), ("MuseScore_General",), inst, n_mixes=4 if quick else 60, duration_s=3.0),
    }


def _key(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


#: ``[train]`` options added after runs were kept, with their defaults: at its default an option is left
#: out of a run's key, so the runs made before it existed stay valid
OPTION_DEFAULTS = {"with_dry": False, "spec_augment": {}, "lr_schedule": "constant", "precision": "fp32"}


def run_identity(train_section: dict) -> dict:
    """What names a run's training in its key: the ``[train]`` table without options left at their defaults."""
    return {k: v for k, v in train_section.items() if not (k in OPTION_DEFAULTS and v == OPTION_DEFAULTS[k])}


def run(args) -> int:
    import torch
    from tqdm import tqdm

    from timbrelab.bench.provenance import report_provenance
    from timbrelab.errors import BadParameterError
    from timbrelab.io_utils import atomic_write_text
    from timbrelab.sounds.corpus import spec_as_dict
    from timbrelab.sounds.datasets import spec_dict
    from timbrelab.timbre_cnn import data as TD
    from timbrelab.timbre_cnn.models import paper_configs
    from timbrelab.ml.checkpoint import load_checkpoint
    from timbrelab.timbre_cnn.classify import TimbreClassifier
    from timbrelab.timbre_cnn.train import corpus_data, train_config_of

    classes = TD.CLASSES_WITH_NONE
    configs = paper_configs(len(classes))
    names = args.models or list(configs)
    unknown = [n for n in names if n not in configs]
    if unknown:
        raise BadParameterError(f"unknown model(s) {', '.join(unknown)} (known: {', '.join(configs)})")
    check_seeds(args.seeds)
    if args.jobs < 1:
        raise BadParameterError(f"--jobs must be at least 1, got {args.jobs}")
    prov = report_provenance("timbre-cnn", args, torch_threads=torch.get_num_threads())  # at the start: the code that runs
    if args.evaluate:
        return evaluate_checkpoint(args, prov)
    reference = reference_runs(*args.reference, args.seeds) if args.reference else None
    rec = recipe(args)
    t_section = rec["train"]
    out_dir, runs_dir = Path(args.out), Path(args.runs)
    out_dir.mkdir(parents=True, exist_ok=True)
    runs_dir.mkdir(parents=True, exist_ok=True)
    json_path = Path(args.json) if args.json else out_dir / "bench_timbre_cnn.json"
    t0 = time.perf_counter()

    tspecs = test_specs(args.quick)
    real = real_recordings(args.quick)
    test_data = {k: spec_as_dict(s) if s.kind == "corpus" else spec_dict(s) for k, s in tspecs.items()}
    cfg0 = train_config_of(t_section)
    runs_key = _key(run_identity(t_section), test_data, [r.path.name for rs in real.values() for r in rs])
    jobs = [(n, s) for n in names for s in args.seeds]
    run_path = {j: runs_dir / f"{j[0]}-seed{j[1]}-{runs_key}.json" for j in jobs}
    # what the corpus and the tests hold, kept beside the runs: with every run done, the table needs no data build
    summary_path = runs_dir / f"data-{runs_key}.json"
    d = tests = None
    if not all(p.exists() for p in run_path.values()) or not summary_path.exists():
        d = corpus_data(t_section)
        tests, real = build_tests(d.train.front_end, tspecs, args.quick)
        summary = {"data": {**d.specs, **test_data}, "validation_source": d.validation_source,
                   "clips": {"train": d.train.n_clips, "left_out_twins": d.left_out_twins, "validation": d.val.n_clips,
                             **{k: w.n_clips for k, w in tests.items()}}}
        atomic_write_text(summary_path, json.dumps(summary, indent=1, default=float))
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    data_seconds = time.perf_counter() - t0

    todo = [j for j in jobs if not run_path[j].exists()]
    if args.jobs > 1 and len(todo) > 1:
        train_in_workers(todo, run_path, t_section, args.quick, args.jobs)
    runs, kept = {}, {}
    for name, seed in tqdm(jobs, desc="bench timbre-cnn", unit="run"):
        path = run_path[(name, seed)]
        if path.exists():
            runs[(name, seed)] = json.loads(path.read_text(encoding="utf-8"))
            continue
        runs[(name, seed)], kept[(name, seed)] = finish_run(configs[name], name, seed, d, tests, cfg0, path)

    models = {n: aggregate([runs[(n, s)] for s in args.seeds]) for n in names}
    selected = max(models, key=lambda n: (models[n]["val_accuracy"]["mean"], -models[n]["params"]))
    # confusion matrices of the selected architecture's seed-0 (or first) run on the real sets, from its kept weights
    seed = args.seeds[0]
    saved = runs_dir / f"{selected}-seed{seed}-{runs_key}.safetensors"
    model = kept.get((selected, seed))
    if model is None and saved.exists():
        clf = TimbreClassifier.from_checkpoint(load_checkpoint(saved))
        model = clf.model
    if model is not None:  # the real sets' windows: from the tests when built, else decoded now (model from its saved checkpoint)
        real_tests = {n: tests[n] for n in REAL_TESTS if n in tests} if tests is not None else \
            {n: TD.from_recordings(real[n], clf.front_end, classes=classes) for n in REAL_TESTS if real.get(n)}
        confusions(model, real_tests, classes, f"{selected} (seed {seed})", out_dir)
        drawn = f"{selected} seed {seed}"
    else:  # a fresh clone (weights are not committed) or an older bench's run: retraining would not give its bits back on another thread count
        drawn = None
        print(f"no confusion matrices: the weights of {selected} seed {seed} are not in {runs_dir} (run weights are not committed, "
              "and an older bench kept none); "
              "`timbrelab bench timbre-cnn --evaluate shipped` draws the shipped model's")
    result = {
        "benchmark": "timbre-cnn",
        "provenance": prov,
        "classes": list(classes),
        "seeds": list(args.seeds),
        "data": summary["data"],
        "validation_source": summary["validation_source"],
        "coverage": coverage_report(summary["validation_source"]),
        "clips": summary["clips"],
        "real_recordings": {n: [{"file": r.path.name, "instrument": r.instrument} for r in rs] for n, rs in real.items()},
        "train_config": cfg0.to_dict(),
        "models": models,
        "runs": [runs[j] for j in jobs],
        "selected_by_validation": selected,
        "confusion_matrices_of": drawn,
        "paper_irmas": [{"model": m, "params": p, "micro_f1": a, "macro_f1": b} for m, p, a, b in PAPER_IRMAS],
        "goals": goals(models, selected),
        "reference": None if reference is None else
        {"runs": args.reference[0], "model": args.reference[1], "comparisons": against_reference(models, aggregate(reference))},
        "seconds": {"data": round(data_seconds, 1), "total": round(time.perf_counter() - t0, 1),
                    "training": round(sum(runs[j]["training_seconds"] for j in jobs), 1)},
    }
    md = markdown_table(result)
    plot(result, out_dir)
    atomic_write_text(json_path, json.dumps(result, indent=1, default=float))
    atomic_write_text(out_dir / "bench_timbre_cnn.md", md)
    print(md)
    print(f"wrote {json_path}, {out_dir / 'bench_timbre_cnn.md'} and the PNGs in {out_dir}")
    return 0


def coverage_report(validation_source: str) -> dict:
    """Which training sources give each class its clips (the validation source apart), and the classes
    with one independent source only (sf_GMbank re-uses TimGM6mb's samples: they count as one)."""
    from timbrelab.sounds.catalogue import SPLITS, coverage

    train = [s for s in SPLITS["train"] if s != validation_source]
    cov = coverage(tuple(train))
    independent = {c: sorted({"TimGM6mb" if s == "sf_GMbank" else s for s in v}) for c, v in cov.items()}
    return {"training_sources": train, "classes": {c: sorted(v) for c, v in cov.items()},
            "one_independent_source": sorted(c for c, v in independent.items() if len(v) < 2)}


def real_recordings(quick: bool = False) -> dict:
    """The real test recordings by set (``medley``, ``debian``, ``no-instrument``); ``quick``: a few of each."""
    from timbrelab.sounds.recordings import real_set
    from timbrelab.timbre_cnn import data as TD

    real = {n: real_set(n) for n in (*REAL_TESTS, "no-instrument")}
    if quick:
        real = {n: [r for r in rs if r.instrument in QUICK_INSTRUMENTS + (TD.NO_INSTRUMENT,)][:4] for n, rs in real.items()}
    return real


def build_tests(front_end, tspecs: dict, quick: bool = False) -> tuple[dict, dict]:
    """The test sets as windows (``notes``, ``phrases``, ``mixes``, ``medley``, ``debian``, ``none``) and the real recordings behind them."""
    from timbrelab.sounds.datasets import build
    from timbrelab.timbre_cnn import data as TD

    classes = TD.CLASSES_WITH_NONE
    test_corpus = TD.clip_maps(build(tspecs["test_corpus"]), front_end, classes)
    style = np.array([r.get("style") for r in test_corpus.rows])
    is_none = test_corpus.y == classes.index(TD.NO_INSTRUMENT)
    from timbrelab.sounds.catalogue import SHARED_SAMPLES

    shared = set(SHARED_SAMPLES[("FluidR3_GM", "MuseScore_General")])
    unshared = np.array([r.get("program") not in shared for r in test_corpus.rows])
    tests = {
        "notes": test_corpus.subset(np.flatnonzero((style == "note") & ~is_none)).windows(),
        # MuseScore_General shares samples with FluidR3_GM for these programs: the notes of the others are the clean cross-soundfont test
        "notes_unshared": test_corpus.subset(np.flatnonzero((style == "note") & ~is_none & unshared)).windows(),
        "phrases": test_corpus.subset(np.flatnonzero((style != "note") & ~is_none)).windows(),
        "mixes": TD.from_dataset(build(tspecs["test_mixes"]), front_end, classes=classes),
    }
    real = real_recordings(quick)
    for n in REAL_TESTS:
        if real[n]:
            tests[n] = TD.from_recordings(real[n], front_end, classes=classes)
    none_parts = [test_corpus.subset(np.flatnonzero(is_none)).windows()]
    if real["no-instrument"]:
        none_parts.append(TD.from_recordings(real["no-instrument"], front_end, classes=classes))
    tests["none"] = TD.concat(none_parts)
    return tests, real


def finish_run(model_config, name: str, seed: int, d, tests: dict, cfg0, path: Path, progress: bool | None = None) -> tuple[dict, object]:
    """Train and score one (model, seed) run and keep it in the runs folder: its row at ``path`` (JSON),
    its weights beside it; a state file beside it while it trains, so a stopped run resumes. (row, model)"""
    from timbrelab.io_utils import atomic_write_text
    from timbrelab.ml.checkpoint import save_checkpoint
    from timbrelab.timbre_cnn.classify import TimbreClassifier

    row, model = train_and_score(model_config, d, tests, cfg0, seed, state_path=path.with_suffix(".state.safetensors"), progress=progress)
    row = {"model": name, **row}
    # the weights beside the scores (written first): a resumed bench draws its confusion matrices without retraining
    save_checkpoint(path.with_suffix(".safetensors"), TimbreClassifier(model, d.train.front_end, d.train.classes).to_checkpoint())
    atomic_write_text(path, json.dumps(row, indent=1, default=float))
    path.with_suffix(".state.safetensors").unlink(missing_ok=True)  # only now: a run stopped while being scored resumes finished
    return row, model


@dataclass
class TrainRunTask(Task):
    """``--jobs``: one (model, seed, run path) in a worker process, which loads the corpus and the tests
    from the cache once (the bench's own process has built them) and keeps the run as the serial bench does."""

    t_section: dict
    quick: bool
    cache: str | None  # the bench's $TIMBRELAB_CACHE: a worker process may have been started before it was set
    _data: object = None
    _local = ("_data",)

    def __call__(self, job) -> str:
        import os

        from timbrelab.timbre_cnn import data as TD
        from timbrelab.timbre_cnn.models import paper_configs
        from timbrelab.timbre_cnn.train import corpus_data, train_config_of

        name, seed, path = job
        if self._data is None:
            if self.cache:
                os.environ["TIMBRELAB_CACHE"] = self.cache
            d = corpus_data(self.t_section, progress=False)
            tests, _ = build_tests(d.train.front_end, test_specs(self.quick), self.quick)
            self._data = d, tests
        d, tests = self._data
        finish_run(paper_configs(len(TD.CLASSES_WITH_NONE))[name], name, seed, d, tests, train_config_of(self.t_section), Path(path), progress=False)
        return path


def train_in_workers(todo: list, run_path: dict, t_section: dict, quick: bool, jobs: int) -> None:
    """Train the unfinished runs ``todo`` side by side in ``jobs`` worker processes (cores ÷ jobs torch
    threads each, at least 1: the committed v2/v3 runs were trained this way, three on two cores)."""
    import os

    from tqdm import tqdm

    from timbrelab.errors import TimbrelabError
    from timbrelab.parallel import ProcessExecutor

    failed = []
    with ProcessExecutor(min(jobs, len(todo))) as ex:
        print(f"training {len(todo)} runs on {ex.describe()}", flush=True)
        items = [(n, s, str(run_path[(n, s)].resolve())) for n, s in todo]
        task = TrainRunTask(t_section, quick, os.environ.get("TIMBRELAB_CACHE"))
        for (n, s, _), ok, value in tqdm(ex.run(task, items), total=len(items), desc="bench timbre-cnn", unit="run"):
            if not ok:
                failed.append(f"{n} seed {s}: {value}")
    if failed:
        raise TimbrelabError("training failed: " + "; ".join(failed))


def train_and_score(model_config, d, tests: dict, cfg0, seed: int, state_path=None, progress: bool | None = None) -> tuple[dict, object]:
    """Train one model on the corpus data ``d`` with ``seed`` and score it on every test set: (row, model).
    ``state_path``: the run's training state after each epoch, so an interrupted run resumes mid-way."""
    import torch

    from timbrelab.timbre_cnn import data as TD
    from timbrelab.timbre_cnn.models import count_parameters
    from timbrelab.timbre_cnn.train import train_on_clips

    cfg = type(cfg0)(**{**cfg0.to_dict(), "seed": seed})
    r = train_on_clips(model_config, d.train, d.val, cfg, progress, state_path=state_path)
    row = {"seed": seed, "torch_threads": torch.get_num_threads(), "window_s": d.train.front_end.window_step_s, "params": count_parameters(r.model), "training_seconds": r.seconds, "best_epoch": r.best_epoch,
           "epochs_run": len(r.history), "history": r.history, "val_accuracy": max(h["val_accuracy"] for h in r.history)}
    row.update(evaluate(r.model, tests, TD.CLASSES_WITH_NONE))
    return row, r.model


class _WithNoInstrument:
    """A model without the "no instrument" output, seen as one whose p(no instrument) is 0 (an extra
    logit of −inf), so that it is scored on the same 29-answer tests: its pooling is then the plain mean."""

    def __init__(self, model):
        self.model, self.config = model, model.config

    def eval(self):
        self.model.eval()
        return self

    def __call__(self, x):
        import torch

        y = self.model(x)
        return torch.cat([y, torch.full((len(y), 1), float("-inf"))], dim=1)


def evaluate_checkpoint(args, prov) -> int:
    """``--evaluate``: a trained classifier's scores on every test set, no training (``bench_timbre_cnn_eval.json``).
    Several checkpoints: their ensemble (``models.TimbreCNNEnsemble``, the mean of their probabilities).
    ``--validation``: the recipe's validation clips are scored too (the corpus is built if not cached)."""
    from timbrelab.errors import BadParameterError
    from timbrelab.io_utils import atomic_write_text, file_sha256
    from timbrelab.ml.checkpoint import load_checkpoint
    from timbrelab.models import checkpoint_path, info
    from timbrelab.timbre_cnn import data as TD
    from timbrelab.timbre_cnn.classify import TimbreClassifier
    from timbrelab.timbre_cnn.models import TimbreCNNEnsemble

    names = [str(e) for e in args.evaluate]
    paths = [checkpoint_path("timbre_cnn") if e == "shipped" else Path(e) for e in names]
    clfs = [TimbreClassifier.from_checkpoint(load_checkpoint(p)) for p in paths]
    clf = clfs[0]
    if len(clfs) > 1:
        if any(c.classes != TD.CLASSES_WITH_NONE for c in clfs) or any(c.front_end != clf.front_end for c in clfs):
            raise BadParameterError("an ensemble's checkpoints must share the taxonomy with 'no instrument' and one front end")
        clf = TimbreClassifier(TimbreCNNEnsemble([c.model for c in clfs]), clf.front_end, clf.classes)
    if clf.classes == TD.CLASSES:
        model = _WithNoInstrument(clf.model)
    elif clf.classes == TD.CLASSES_WITH_NONE:
        model = clf.model
    else:
        raise BadParameterError(f"{paths[0]}: a timbre CNN over other classes than the taxonomy's")
    tests, real = build_tests(clf.front_end, test_specs(args.quick), args.quick)
    if args.validation:
        from timbrelab.timbre_cnn.train import corpus_data

        val = corpus_data(recipe(args)["train"]).val
        if val.front_end != clf.front_end:
            raise BadParameterError("--validation: the recipe's front end is not the checkpoint's")
        tests = {"validation": val, **tests}
    scores = evaluate(model, tests, TD.CLASSES_WITH_NONE)
    via_classify = {n: classify_scores(clf, real[n]) for n in REAL_TESTS if real.get(n) and clf.classes == TD.CLASSES_WITH_NONE}
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    title = "shipped timbre CNN" if names == ["shipped"] else " + ".join(Path(n).name for n in names)
    confusions(model, {n: tests[n] for n in REAL_TESTS if n in tests}, TD.CLASSES_WITH_NONE, title if len(title) < 80 else f"ensemble of {len(names)}", out_dir)
    result = {"benchmark": "timbre-cnn --evaluate", "provenance": prov, "checkpoint": names[0] if len(names) == 1 else names,
              "sha256": file_sha256(paths[0]) if len(paths) == 1 else [file_sha256(p) for p in paths],
              "manifest": info("timbre_cnn") if names == ["shipped"] else None, "classes": list(clf.classes),
              "clips": {k: w.n_clips for k, w in tests.items()}, "scores": scores, "via_classify": via_classify}
    what = f"`{names[0]}` (sha256 {result['sha256'][:12]}, {len(clf.classes)} outputs)" if len(names) == 1 else \
        f"the ensemble (mean probabilities) of {len(names)} checkpoints: " + ", ".join(f"`{n}`" for n in names)
    lines = [f"Scores of {what}, no training:", "",
             "| test | accuracy | top-3 | macro-F1 | micro-F1 | no-instrument rate |", "|---|---|---|---|---|---|"]
    for t, sc in scores.items():
        cells = [f"{sc[k]:.3f}" if k in sc else "–" for k in ("accuracy", "top3", "macro_f1", "micro_f1", "no_instrument_rate")]
        lines.append(f"| {t} ({result['clips'][t]} clips) | " + " | ".join(cells) + " |")
    if via_classify:
        lines += ["", "The real sets through `timbrelab classify` (each file decoded and streamed as a user's file is; its `top`):", "",
                  "| set | files | top-1 | top-3 | answered no instrument |", "|---|---|---|---|---|"]
        for n, v in via_classify.items():
            lines.append(f"| {n} | {v['files']} | {v['accuracy']:.3f} | {v['top3']:.3f} | {v['no_instrument']} |")
    from timbrelab.bench.provenance import markdown_footer

    md = "\n".join(lines) + "\n\n" + markdown_footer(prov) + "\n"
    json_path = Path(args.json) if args.json else out_dir / "bench_timbre_cnn_eval.json"
    atomic_write_text(json_path, json.dumps(result, indent=1, default=float))
    atomic_write_text(out_dir / "bench_timbre_cnn_eval.md", md)
    print(md)
    print(f"wrote {json_path}, {out_dir / 'bench_timbre_cnn_eval.md'}, confusion_*.png")
    return 0


def classify_scores(clf, recordings) -> dict:
    """Top-1 / top-3 of ``timbrelab classify`` on real recordings (the user's path: file decoding,
    streaming, the clip pooling and its "no instrument" answer): what a user who runs ``classify`` on
    the set and counts sees."""
    right = top3 = none = 0
    for r in recordings:
        c = clf.classify_file(r.path, top=3)
        names = [n for n, _ in c.top]
        right += bool(names) and names[0] == r.instrument
        top3 += r.instrument in names
        none += c.no_instrument
    n = max(1, len(recordings))
    return {"files": len(recordings), "accuracy": right / n, "top3": top3 / n, "no_instrument": none}


def evaluate(model, tests: dict, classes) -> dict:
    """Every test set's scores for one trained model."""
    from timbrelab.eval.classification import multi_label_scores, prf_scores, one_hot
    from timbrelab.timbre_cnn.data import NO_INSTRUMENT
    from timbrelab.timbre_cnn.evaluate import clip_probabilities

    none = list(classes).index(NO_INSTRUMENT)
    out = {}
    for name, w in tests.items():
        t = time.perf_counter()
        probs = clip_probabilities(model, w)
        seconds = time.perf_counter() - t
        if name == "mixes":
            keep = [i for i in range(len(classes)) if i != none]
            out[name] = multi_label_scores(probs[:, keep], w.Y[:, keep])
        elif name == "none":
            out[name] = {"no_instrument_rate": float((probs.argmax(axis=1) == none).mean()), "clips": int(w.n_clips)}
        else:
            labels = w.labels
            pred = probs.argmax(axis=1)
            top3 = np.argsort(-probs, axis=1)[:, :3]
            out[name] = {"accuracy": float((pred == labels).mean()), "top3": float(np.mean([l in t3 for l, t3 in zip(labels, top3)])),
                         "no_instrument_rate": float((pred == none).mean()),
                         **prf_scores(one_hot(labels, len(classes)), one_hot(pred, len(classes)))}
            if name == "notes":
                out[name]["windows_per_second"] = float(len(w.X) / max(seconds, 1e-9))
    return out


METRICS = {"notes": ("accuracy", "macro_f1"), "notes_unshared": ("accuracy", "macro_f1"), "phrases": ("accuracy", "macro_f1"), "mixes": ("micro_f1", "macro_f1"),
           "medley": ("accuracy", "top3", "macro_f1"), "debian": ("accuracy", "top3", "macro_f1"), "none": ("no_instrument_rate",)}


def check_seeds(seeds) -> None:
    from timbrelab.errors import BadParameterError

    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise BadParameterError("--seeds: distinct whole numbers ≥ 0")


def aggregate(rows: list[dict]) -> dict:
    """Mean and sample sd (ddof=1; 0 for one seed) of every metric over the seeds' runs."""
    ms = mean_sd

    out = {"params": rows[0]["params"], "seeds": [r["seed"] for r in rows], "val_accuracy": ms([r["val_accuracy"] for r in rows]),
           "training_seconds": ms([r["training_seconds"] for r in rows]), "epochs_run": ms([r["epochs_run"] for r in rows])}
    for t, keys in METRICS.items():
        if t in rows[0]:
            out[t] = {k: ms([r[t][k] for r in rows]) for k in keys}
    if "notes" in rows[0]:
        out["inference_windows_per_second"] = ms([r["notes"]["windows_per_second"] for r in rows])
        out["inference_realtime_factor"] = ms([r["notes"]["windows_per_second"] * r.get("window_s", 2.7306) for r in rows])
    return out


#: the figures compared with a reference model's runs: (test, metric or None for a top-level figure, label)
REFERENCE_FIGURES = (("val_accuracy", None, "val acc"), ("notes", "macro_f1", "notes macro-F1"),
                     ("medley", "accuracy", "Medley top-1"), ("debian", "accuracy", "Debian top-1"))


def reference_runs(folder, model: str, seeds) -> list[dict]:
    """The finished runs (their JSON rows) of ``model`` in the runs folder ``folder``, one per seed."""
    from timbrelab.errors import BadParameterError

    rows = []
    for s in seeds:
        found = sorted(Path(folder).glob(f"{model}-seed{s}-*.json"))
        if len(found) != 1:
            raise BadParameterError(f"--reference: {len(found) or 'no'} finished runs of {model} seed {s} in {folder}; one is needed")
        rows.append(json.loads(found[0].read_text(encoding="utf-8")))
    return rows


def against_reference(models: dict, ref: dict) -> dict:
    """Per model and figure: the change of the mean against the reference's, and Welch's t over the seeds."""
    out = {}
    for n, m in models.items():
        out[n] = {}
        for t, k, label in REFERENCE_FIGURES:
            a, b = (m.get(t), ref.get(t)) if k is None else (m.get(t, {}).get(k), ref.get(t, {}).get(k))
            if a is not None and b is not None:
                out[n][label] = {"delta": a["mean"] - b["mean"], "t": welch_t(a, b)}
    return out


def goals(models: dict, selected: str) -> dict:
    s = models[selected]
    g = {"selected": selected}
    for t in REAL_TESTS:
        if t in s:
            g[f"{t}_top1"] = {"target": 0.6, "mean": s[t]["accuracy"]["mean"], "met": s[t]["accuracy"]["mean"] >= 0.6}
    if "notes" in s:
        g["notes_macro_f1"] = {"target": 0.85, "mean": s["notes"]["macro_f1"]["mean"], "met": s["notes"]["macro_f1"]["mean"] >= 0.85}
    ml = models.get("multi-layer")
    comps = []
    for n in models:
        if n.startswith("small-rect") and ml and "notes" in ml:
            a, b = ml["notes"]["macro_f1"]["mean"], models[n]["notes"]["macro_f1"]["mean"]
            comps.append({"small_rect": n, "multi_layer_macro_f1": a, "small_rect_macro_f1": b, "param_ratio": ml["params"] / models[n]["params"],
                          "met": a >= b and ml["params"] <= 0.5 * models[n]["params"]})
    g["seed_claim"] = {"text": "multi-layer macro-F1 on cross-soundfont notes >= small-rect's, with at most half its parameters", "comparisons": comps}
    return g


def confusions(model, tests: dict, classes, title: str, out_dir: Path) -> None:
    from timbrelab.eval.classification import confusion
    from timbrelab.plots import confusion_matrix
    from timbrelab.timbre_cnn.evaluate import clip_probabilities

    for t, w in tests.items():
        pred = clip_probabilities(model, w).argmax(axis=1)
        used = sorted(set(w.labels.tolist()) | set(pred.tolist()))
        true = sorted(set(w.labels.tolist()))
        remap = {c: i for i, c in enumerate(used)}
        cm = confusion(np.array([remap[x] for x in w.labels]), np.array([remap[x] for x in pred]), len(used))
        cm = cm[[remap[c] for c in true]]  # rows: the classes the set has; columns: every answer given
        confusion_matrix(cm, [classes[c] for c in used], f"{title}: {t} real recordings", out_dir / f"confusion_{t}.png",
                         true_names=[classes[c] for c in true])


def _pm(m: dict) -> str:
    return f"{m['mean']:.3f} ± {m['sd']:.3f}"


def markdown_table(r: dict) -> str:
    lines = [f"Mean ± sd over seeds {', '.join(map(str, r['seeds']))}. Real sets: top-1 / top-3 over all {len(r['classes'])} answers "
             "(\"no instrument\" counts as wrong), macro-F1 over the set's classes.", "",
             "| model | params | val acc | notes acc | notes macro-F1 | phrases acc | mixes micro-F1 | mixes macro-F1 | Medley top-1 | Medley top-3 | Medley macro-F1 | Debian top-1 | Debian top-3 | no-instrument rate | train s | epochs | inference × real time |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for n, m in r["models"].items():
        mark = " **(selected)**" if n == r["selected_by_validation"] else ""

        def g(t, k):
            return _pm(m[t][k]) if t in m else "–"

        lines.append(f"| {n}{mark} | {m['params']:,} | {_pm(m['val_accuracy'])} | {g('notes', 'accuracy')} | {g('notes', 'macro_f1')} | {g('phrases', 'accuracy')} | "
                     f"{g('mixes', 'micro_f1')} | {g('mixes', 'macro_f1')} | {g('medley', 'accuracy')} | {g('medley', 'top3')} | {g('medley', 'macro_f1')} | "
                     f"{g('debian', 'accuracy')} | {g('debian', 'top3')} | {g('none', 'no_instrument_rate')} | {m['training_seconds']['mean']:.0f} | {m['epochs_run']['mean']:.1f} | {m['inference_realtime_factor']['mean']:.0f} |")
    if r.get("reference"):
        ref = r["reference"]
        labels = [label for _, _, label in REFERENCE_FIGURES]
        lines += ["", f"Against {ref['model']} of `{ref['runs']}` (the same seeds): the change of the mean, Welch's t in brackets "
                  "(|t| ≥ 2.8 is p < 0.05 over three seeds a side).", "", "| model | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
        for n, c in ref["comparisons"].items():
            cells = [change_cell(c[x]["delta"], c[x]["t"]) if x in c else "–" for x in labels]
            lines.append(f"| {n} | " + " | ".join(cells) + " |")
    lines += ["", "Paper (IRMAS, 11 classes, predominant-instrument test) — **different data**, for orientation only:", "",
              "| model | params | micro F1 | macro F1 |", "|---|---|---|---|"]
    lines += [f"| {p['model']} | {p['params'] / 1000:.0f}k | {p['micro_f1']:.3f} | {p['macro_f1']:.3f} |" for p in r["paper_irmas"]]
    c = r["clips"]
    lines += ["", f"Data: {len(r['classes'])} answers (28 instruments + no instrument); training {c['train']} augmented clips from the training sources "
              f"but {r['validation_source']} ({c.get('left_out_twins', 0)} clips of programs whose samples are {r['validation_source']}'s left out); validation {c['validation']} clips of {r['validation_source']}; tests (never trained, selected or stopped on): "
              f"{c.get('notes', 0)} MuseScore_General notes, {c.get('phrases', 0)} phrases, {c.get('mixes', 0)} mixtures (threshold 0.2), "
              f"{c.get('medley', 0)} Medley-solos-DB clips, {c.get('debian', 0)} Debian samples, {c.get('none', 0)} non-instrument sounds. "
              f"Total run time {r['seconds']['total'] / 60:.1f} min ({r['seconds']['training'] / 60:.1f} min of training)."]
    sel = r["models"][r["selected_by_validation"]]
    if "notes_unshared" in sel:
        lines.append(f"Held-out soundfont notes of the programs whose MuseScore_General samples are *not* FluidR3_GM's ({c.get('notes_unshared', 0)} notes): "
                     f"{r['selected_by_validation']} accuracy {_pm(sel['notes_unshared']['accuracy'])}, macro-F1 {_pm(sel['notes_unshared']['macro_f1'])} "
                     f"(all notes: {_pm(sel['notes']['macro_f1'])}).")
    cov = r["coverage"]
    lines.append(f"Training sources: {', '.join(cov['training_sources'])}; classes with only one independent source: "
                 f"{', '.join(cov['one_independent_source']) or 'none'} (sf_GMbank re-uses TimGM6mb's samples and counts as one with it).")
    g = r["goals"]
    for k in ("medley_top1", "debian_top1", "notes_macro_f1"):
        if k in g:
            lines.append(f"Goal {k.replace('_', ' ')} ≥ {g[k]['target']}: {g[k]['mean']:.3f} — {'met' if g[k]['met'] else 'not met'}.")
    for c in g["seed_claim"]["comparisons"]:
        lines.append(f"Seed claim vs {c['small_rect']}: multi-layer notes macro-F1 {c['multi_layer_macro_f1']:.3f} vs {c['small_rect_macro_f1']:.3f}, "
                     f"parameters ×{c['param_ratio']:.2f} — {'met' if c['met'] else 'not met'}.")
    lines.append(f"Confusion matrices (confusion_medley.png, confusion_debian.png): {r['confusion_matrices_of']}." if r.get("confusion_matrices_of")
                 else "No confusion matrices here: the selected run's weights are not in the runs folder; `--evaluate shipped` draws the shipped model's.")
    from timbrelab.bench.provenance import markdown_footer

    lines += ["", markdown_footer(r["provenance"])]
    return "\n".join(lines) + "\n"


def plot(r: dict, out_dir: Path) -> None:
    from timbrelab import plots

    names = list(r["models"])
    sets = [("notes", "macro_f1", "held-out soundfont notes macro-F1"), ("medley", "accuracy", "Medley-solos-DB top-1"),
            ("debian", "accuracy", "Debian recordings top-1"), ("none", "no_instrument_rate", "non-instrument sounds → 'no instrument'")]
    fig = plots.figure(figsize=(15, 3.4))
    axes = fig.subplots(1, len(sets), sharey=True)
    for ax, (t, k, title) in zip(axes, sets):
        means = [r["models"][n][t][k]["mean"] if t in r["models"][n] else 0 for n in names]
        sds = [r["models"][n][t][k]["sd"] if t in r["models"][n] else 0 for n in names]
        colors = ["#a50f15" if n == r["selected_by_validation"] else "#3182bd" for n in names]
        ax.barh(names, means, xerr=sds, color=colors)
        for i, n in enumerate(names):
            ax.text(means[i] + sds[i] + 0.01, i, f"{means[i]:.2f}", va="center", fontsize=7)
        ax.set(xlim=(0, 1.15), title=title)
        ax.title.set_fontsize(9)
    fig.suptitle(f"timbre CNNs, mean ± sd over {len(r['seeds'])} seeds (red: selected by validation accuracy)", fontsize=10)
    plots.save(fig, out_dir / "bench_timbre_cnn.png", dpi=110)
    learning_curves(r, out_dir / "learning_curves.png")


def learning_curves(r: dict, path: Path) -> None:
    """Validation accuracy per epoch of every run (thin: one seed; thick: the mean over seeds), one panel
    per model: whether the budget (max_epochs) stopped a model that was still improving."""
    from timbrelab import plots

    names = list(r["models"])
    cols = min(3, len(names))
    rows_n = (len(names) + cols - 1) // cols
    fig = plots.figure(figsize=(4.2 * cols, 2.8 * rows_n + 0.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows_n, cols, sharey=True, squeeze=False)).ravel()
    for ax, n in zip(axes, names):
        curves = [[h["val_accuracy"] for h in run["history"]] for run in r["runs"] if run["model"] == n]
        for c in curves:
            ax.plot(range(1, len(c) + 1), c, color="#9ecae1", lw=0.8)
        longest = max(len(c) for c in curves)
        mean = [np.mean([c[e] for c in curves if len(c) > e]) for e in range(longest)]
        ax.plot(range(1, longest + 1), mean, "o-", color="#08519c", ms=3, lw=1.6, label="mean over seeds")
        ax.set(title=n, xlabel="epoch", ylim=(0, 1))
        ax.title.set_fontsize(9)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("validation accuracy")
    axes[0].legend(fontsize=7)
    for ax in axes[len(names):]:
        ax.set_visible(False)
    fig.suptitle(f"validation clip accuracy per epoch ({r['validation_source']}, a training source held out)", fontsize=10)
    plots.save(fig, path, dpi=110)
