import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


def sha256(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.fixture
def cli(capsys):
    """Run the CLI in-process; returns (exit_code, stdout, stderr)."""
    from timbrelab.cli import main

    def run(*args):
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def timbrelab_cache(tmp_path, monkeypatch):
    """timbrelab's cache (``$TIMBRELAB_CACHE``) in this test's folder; its path."""
    root = tmp_path / "cache"
    monkeypatch.setenv("TIMBRELAB_CACHE", str(root))
    return root


@pytest.fixture
def pink_wav(tmp_path):
    """A 3 s stereo pink-noise WAV (16-bit, 44.1 kHz)."""
    from timbrelab.audio import write_audio
    from timbrelab.dsp.signals import pink_noise

    p = tmp_path / "pink.wav"
    write_audio(p, pink_noise(3.0, 44100, channels=2, seed=3), 44100, bit_depth="16")
    return p


@functools.lru_cache(maxsize=None)
def have_synth() -> bool:
    """Whether FluidSynth and the TimGM6mb soundfont work; asked once, at the first test that needs them
    (never while pytest collects, so `pytest --collect-only` and runs of other tests start no synthesizer)."""
    from timbrelab.errors import MissingComponentError

    try:
        from timbrelab.sounds.render import Renderer

        Renderer("TimGM6mb", 22050).close()
        return True
    except MissingComponentError:
        return False


SYNTH_MISSING = "FluidSynth or the TimGM6mb soundfont is not installed"
#: mark a test that renders with FluidSynth; it is skipped at run time when no synthesizer is available
needs_synth = pytest.mark.needs_synth


def pytest_runtest_setup(item):
    if item.get_closest_marker("needs_synth") is not None and not have_synth():
        pytest.skip(SYNTH_MISSING)


def __getattr__(name):
    # ``from conftest import HAVE_SYNTH`` (older tests) still works, and starts FluidSynth only then
    if name == "HAVE_SYNTH":
        return have_synth()
    raise AttributeError(name)


# --- bench runs --------------------------------------------------------------------------------------

#: the cheapest run of every ``timbrelab bench NAME`` (seconds, not the README's minutes); a new bench
#: adds its own here (tests/test_bench_provenance.py fails for a registered bench missing from this table)
BENCH_QUICK_RUNS = {
    "fx": ["--minutes", "0.1", "--stream-minutes", "0.1", "--repeats", "1"],
    "word2eq": ["--methods", "mean"],
    "word2reverb": ["--quick"],
    "timbre-cnn": ["--quick", "--models", "dieleman-1x", "--seeds", "0", "1"],
    "timbre-cnn-ablation": ["--quick", "--model", "dieleman-1x", "--seeds", "0", "1", "--variants", "all", "no-augmentation", "no-noise", "no-freepats", "with-dry"],
    "speed": ["--only", "classify", "--classify-max-s", "10"],
    "probe": ["--quick", "--embedder", "probe_toys:crowd_eq_embedder"],
    "separate": ["--quick", "--seeds", "0", "1"],
    "explore": ["--quick", "--seeds", "0", "1", "--triples", "2"],
    "scale": ["--files", "6", "--seconds", "1", "--repeats", "1", "--no-ray", "--max-vectors", "10000", "--queries", "20"],
}


@dataclass
class BenchRun:
    argv: list
    code: int
    out: str
    err: str
    out_dir: Path
    report: dict | None  # the bench's JSON (out_dir/bench_*.json), None if it wrote none


@pytest.fixture(scope="session")
def bench_run(tmp_path_factory):
    """``bench_run(NAME)``: run ``timbrelab bench NAME`` with its quick options (``BENCH_QUICK_RUNS``) once
    per test session, in-process, into a fresh folder (data sets cached there too); every test asking
    for the same bench shares the run."""
    import contextlib
    import io
    import json

    runs = {}

    def run(name: str) -> BenchRun:
        if name not in runs:
            from timbrelab.cli import main

            out_dir = tmp_path_factory.mktemp("bench-" + name)
            argv = ["bench", name, *BENCH_QUICK_RUNS[name], "--out", str(out_dir)]
            if name.startswith("timbre-cnn"):
                argv += ["--runs", str(out_dir / "runs")]
            out, err = io.StringIO(), io.StringIO()
            with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                mp.setenv("TIMBRELAB_CACHE", str(out_dir / "cache"))
                code = main(argv)
            reports = sorted(out_dir.glob("bench_*.json"))
            report = json.loads(reports[0].read_text()) if len(reports) == 1 else None
            runs[name] = BenchRun(argv, code, out.getvalue(), err.getvalue(), out_dir, report)
        return runs[name]

    return run
