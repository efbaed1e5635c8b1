"""Truth in the README: every code example in it is executed here, and every result it shows is checked.

- ```python blocks are doctests: each ``>>>`` line runs, and the output shown under it must be what the
  code returns (``...`` matches anything, as in doctest's ELLIPSIS).
- ```bash blocks: each ``timbrelab …`` line runs, in order, in a scratch folder holding the files the
  examples name (guitar.wav, vocals.wav, takes/, library/ …), and must exit 0. ``timbrelab bench …`` and
  ``train``/``ship``/``studio`` lines (minutes to an hour; shipping changes the package; the studio
  serves until stopped) are parsed with the real parser, and each has a smaller run in its own test. The quick-start lines (``bash scripts/setup.sh && …``) are what CI itself runs; the
  demo's ``timbrelab`` part runs here.
"""

import doctest
import re
import shlex
import shutil
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def blocks(lang: str) -> list[tuple[int, str]]:
    text = README.read_text(encoding="utf-8")
    out = []
    for m in re.finditer(r"^```" + lang + r"\n(.*?)^```", text, flags=re.S | re.M):
        out.append((text[: m.start()].count("\n") + 1, m.group(1)))
    return out


def bash_commands() -> list[tuple[int, list[str]]]:
    cmds = []
    for line_no, body in blocks("bash"):
        for i, line in enumerate(body.splitlines()):
            line = line.strip()
            if "&&" in line:  # quick start: setup.sh && the timbrelab command
                line = line.split("&&")[-1].strip()
            argv = shlex.split(line, comments=True)
            if not argv:
                continue
            if argv[0].endswith("timbrelab"):
                cmds.append((line_no + 1 + i, argv[1:]))
            elif argv[-2:] == ["-m", "pytest"] or argv[0] == "bash":
                continue  # the quick start's test command is this very run; setup.sh is what CI runs first
            else:
                pytest.fail(f"README.md:{line_no + 1 + i}: a bash example this test does not know how to run: {line}")
    return cmds


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """The files the README's examples name, made from the bundled example and pink noise."""
    from timbrelab.audio import read_audio, write_audio
    from timbrelab.demo import example_path
    from timbrelab.dsp.signals import pink_noise

    x, sr = read_audio(example_path())
    write_audio(tmp_path / "guitar.wav", x, sr, bit_depth="24")
    write_audio(tmp_path / "vocals.wav", x[:, : sr * 3], sr, bit_depth="16")
    write_audio(tmp_path / "in.wav", x[:, : sr * 2], sr, bit_depth="16")
    write_audio(tmp_path / "other.wav", pink_noise(2.0, sr, channels=2, seed=1), sr, bit_depth="16")
    write_audio(tmp_path / "long_take.wav", np.concatenate([x] * 2, axis=1), sr, bit_depth="16")
    (tmp_path / "takes").mkdir()
    for i in range(2):
        write_audio(tmp_path / "takes" / f"take{i + 1}.wav", pink_noise(1.0, sr, channels=2, seed=10 + i), sr, bit_depth="16")
    (tmp_path / "library").mkdir()
    for i in range(3):
        write_audio(tmp_path / "library" / f"sample{i + 1}.wav", pink_noise(1.0, sr, channels=2, seed=20 + i), sr, bit_depth="16")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_readme_has_examples():
    assert blocks("python") and bash_commands()


@pytest.mark.slow
def test_bash_examples_run(cli, scratch):
    from timbrelab.cli import build_parser

    parser = build_parser()
    for line_no, argv in bash_commands():
        if argv and (argv[0] in ("bench", "ship", "studio") or argv[0] == "train" and "--list" not in argv):
            # parsed for real; benches and training take minutes (see their own tests), shipping
            # would change the installed package, and the studio serves until it is stopped
            # (tests/test_studio_api.py and tests/test_studio_browser.py run it)
            ns = parser.parse_args(argv)
            assert ns.func, f"README.md:{line_no}"
            continue
        if argv[:1] == ["demo"] and "-o" not in argv:
            argv = argv + ["-o", str(scratch / "timbrelab-demo")]
        code, out, err = cli(*argv, *(["-q"] if argv[0] in ("apply", "demo") and "-q" not in argv else []))
        assert code == 0, f"README.md:{line_no}: timbrelab {' '.join(argv)}\n{err}"


def test_python_examples_are_true(scratch):
    for line_no, body in blocks("python"):
        assert ">>>" in body, f"README.md:{line_no}: a Python example without >>> lines cannot be checked"
        test = doctest.DocTestParser().get_doctest(body, {}, f"README.md:{line_no}", str(README), line_no)
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        runner.run(test, out=lambda s: pytest.fail(s))
        assert runner.failures == 0
