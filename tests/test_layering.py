"""The one-way flow of DESIGN.md, read from the source (ast), not from a running import:

    shared ground (audio, errors, io_utils, dsp, features, text, data, ml, eval, plots, provenance)
        → capabilities (word2fx, timbre_cnn, lexicon, fx, probe, clap, separate, explore)
        → service → cli · commands · studio   (bench and demo are entry points too)

- the shared ground imports no capability and nothing above them;
- a capability imports no service, CLI, command, studio or bench module;
- library code flips no process-global switch (environment variables, torch's thread count,
  matplotlib's backend): only the entry points may (``cli.py``, ``commands/``, ``bench/``).

Imports count wherever they are written (module level or inside a function, ``import x``,
``from x import y``, relative imports, ``importlib.import_module("literal")``). Packages are
discovered when the tests are collected: a package another engineer adds today is checked as soon as it exists.
A known violation in code this test's author does not own is listed in ``KNOWN_*`` as a strict xfail
naming it: the test turns red as soon as it is fixed, so the entry is removed then.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import timbrelab

PKG = Path(timbrelab.__file__).resolve().parent
SHARED_GROUND = ("audio", "errors", "io_utils", "dsp", "features", "text", "data", "ml", "eval", "plots", "provenance")
CAPABILITIES = ("word2fx", "timbre_cnn", "lexicon", "fx", "probe", "clap", "separate", "explore")
ABOVE_CAPABILITIES = ("service", "cli", "commands", "studio", "bench")
ENTRY_POINTS = ("demo",)  # a shell over the capabilities, like the service
FORBIDDEN = {
    "shared ground": CAPABILITIES + ABOVE_CAPABILITIES + ENTRY_POINTS,
    "capability": ABOVE_CAPABILITIES,
}
#: where process-global switches are allowed: the command line's entry points
GLOBAL_SWITCH_OK = ("cli.py", "commands/", "bench/", "parallel_worker.py")  # parallel_worker: only in the worker processes timbrelab starts
GLOBAL_CALLS = {
    "os.putenv", "os.unsetenv", "os.environ.setdefault", "os.environ.update", "os.environ.pop", "os.environ.clear",
    "os.environ.popitem", "torch.set_num_threads", "torch.set_num_interop_threads", "matplotlib.use",
    "matplotlib.pyplot.switch_backend",
}

#: path (relative to the package) → why it is expected to fail today; strict xfail: fixed = red, remove the entry
KNOWN_UPWARD: dict[str, str] = {}
KNOWN_SWITCHES: dict[str, str] = {}


def modules_of(names) -> list[Path]:
    """The ``.py`` files of the top-level modules/packages ``names`` that exist now."""
    out = []
    for name in names:
        if (PKG / f"{name}.py").is_file():
            out.append(PKG / f"{name}.py")
        elif (PKG / name).is_dir():
            out += sorted(p for p in (PKG / name).rglob("*.py") if "__pycache__" not in p.parts)
    return out


def rel(path: Path) -> str:
    return path.relative_to(PKG).as_posix()


def dotted(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every import in the file, resolved to absolute dotted names; for
    ``from a import b`` both ``a`` and ``a.b`` (``b`` may be a submodule)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = dotted(path) if path.name == "__init__.py" else dotted(path).rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            out.append((node.lineno, module))
            out += [(node.lineno, f"{module}.{a.name}") for a in node.names if a.name != "*"]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            if name in ("import_module", "__import__"):
                out.append((node.lineno, node.args[0].value))
    return out


def violations(path: Path, layer: str) -> list[str]:
    bad = {f"timbrelab.{n}" for n in FORBIDDEN[layer]}
    found = []
    for line, module in imported_names(path):
        hit = next((b for b in bad if module == b or module.startswith(b + ".")), None)
        if hit:
            found.append(f"{rel(path)}:{line} imports {module} ({layer} must not import {hit})")
    return sorted(set(found))


def _params(files, layer):
    out = []
    for f in files:
        marks = [pytest.mark.xfail(strict=True, reason=KNOWN_UPWARD[rel(f)])] if rel(f) in KNOWN_UPWARD else []
        out.append(pytest.param(f, layer, id=rel(f), marks=marks))
    return out


LAYERED = _params(modules_of(SHARED_GROUND), "shared ground") + _params(modules_of(CAPABILITIES), "capability")


def test_the_layers_exist_and_are_found():
    names = {rel(p.values[0]) for p in LAYERED}
    assert {"audio.py", "errors.py", "io_utils.py", "dsp/eq.py", "fx.py", "word2fx/eq.py", "timbre_cnn/classify.py"} <= names


@pytest.mark.parametrize("path, layer", LAYERED)
def test_no_import_points_upward(path, layer):
    assert violations(path, layer) == []


def test_the_import_reader_sees_every_form(tmp_path, monkeypatch):
    """The checker itself: a fake shared-ground module with each way of importing a capability."""
    fake = tmp_path / "timbrelab"
    (fake / "dsp").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "dsp" / "__init__.py").write_text("")
    src = fake / "dsp" / "bad.py"
    src.write_text(
        "import numpy\nfrom timbrelab.audio import read_audio\nimport timbrelab.word2fx.eq\n"
        "def f():\n    from timbrelab import timbre_cnn\n    from ..lexicon import maps\n"
        "    import importlib\n    importlib.import_module('timbrelab.service.models')\n"
        "from . import eq\nfrom timbrelab.cli import main\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "PKG", fake)
    found = violations(src, "shared ground")
    assert [v.split(" imports ")[1].split(" (")[0] for v in found] == [
        "timbrelab.cli", "timbrelab.cli.main", "timbrelab.word2fx.eq", "timbrelab.timbre_cnn", "timbrelab.lexicon",
        "timbrelab.lexicon.maps", "timbrelab.service.models"]
    assert violations(src, "capability") == sorted(v.replace("shared ground", "capability") for v in found if "cli" in v or "service" in v)


# --- process-global switches ------------------------------------------------------------------------

def _aliases(tree: ast.AST) -> dict[str, str]:
    """Local name → dotted name, from every import in the file (``import matplotlib.pyplot as plt`` → plt: matplotlib.pyplot)."""
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                out[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                out[a.asname or a.name] = f"{node.module}.{a.name}"
    return out


def _name(node: ast.AST, aliases: dict[str, str]) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(aliases.get(node.id, node.id))
    return ".".join(reversed(parts))


def global_switches(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    aliases = _aliases(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _name(node.func, aliases)
            if name in GLOBAL_CALLS:
                found.append((node.lineno, f"calls {name}"))
        targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target] if isinstance(node, ast.AugAssign) else []
        for t in targets:
            if isinstance(t, ast.Subscript) and _name(t.value, aliases) == "os.environ":
                found.append((node.lineno, f"{'deletes' if isinstance(node, ast.Delete) else 'sets'} os.environ[...]"))
    return [f"{rel(path)}:{line} {what}" for line, what in sorted(found)]


def library_files() -> list[Path]:
    files = sorted(p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts)
    return [p for p in files if not any(rel(p) == ok or (ok.endswith("/") and rel(p).startswith(ok)) for ok in GLOBAL_SWITCH_OK)]


def _switch_params():
    out = []
    for f in library_files():
        marks = [pytest.mark.xfail(strict=True, reason=KNOWN_SWITCHES[rel(f)])] if rel(f) in KNOWN_SWITCHES else []
        out.append(pytest.param(f, id=rel(f), marks=marks))
    return out


@pytest.mark.parametrize("path", _switch_params())
def test_library_code_flips_no_process_global_switch(path):
    assert global_switches(path) == []


def test_the_switch_reader_sees_every_form(tmp_path, monkeypatch):
    fake = tmp_path / "timbrelab"
    fake.mkdir()
    src = fake / "bad.py"
    src.write_text(
        "import os\nimport matplotlib as mpl\nfrom os import environ\n"
        "os.environ['A'] = '1'\nos.environ.setdefault('B', '2')\nenviron['C'] = '3'\n"
        "def f():\n    import torch\n    torch.set_num_threads(1)\n    mpl.use('Agg')\n    os.putenv('D', '4')\n    del os.environ['A']\n"
        "env = {**os.environ, 'E': '5'}\nx = os.environ.get('F')\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "PKG", fake)
    found = global_switches(src)
    assert [(int(v.split(":")[1].split(" ")[0]), v.split(" ", 1)[1]) for v in found] == [
        (4, "sets os.environ[...]"), (5, "calls os.environ.setdefault"), (6, "sets os.environ[...]"), (9, "calls torch.set_num_threads"),
        (10, "calls matplotlib.use"), (11, "calls os.putenv"), (12, "deletes os.environ[...]")]
