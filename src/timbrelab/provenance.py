"""Provenance for benchmark reports and training runs: what ran, on what, from which code.

Every ``timbrelab bench …`` report should say how to reproduce its numbers. ``provenance(command)``
returns a JSON-able dict::

    {"command": "timbrelab bench speed", "date_utc": "2025-…Z",
     "git": {"commit": "3e0c272…", "dirty": True, "modified_files": 3},
     "python": "3.11.7", "platform": "Linux-…", "machine": {"cpus": 2, "memory_gb": 23.5, "cpu": "…", "vector_isa": "amx"},
     "packages": {"timbrelab": "0.1.0", "numpy": "2.4.6", "torch": "2.13.0+cpu"}}

Package versions come from the installed distributions' metadata (``importlib.metadata``), so
asking for torch's version does not import torch. ``command_line(name)`` rebuilds the command a
user typed (``timbrelab bench NAME …``), whether the bench ran from the CLI or from ``python -m``.
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
from pathlib import Path

DEFAULT_PACKAGES = ("timbrelab", "numpy", "torch")


def package_versions(names=DEFAULT_PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution (None when it is not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def git_state(folder: str | os.PathLike | None = None) -> dict:
    """Commit of the checkout holding ``folder`` (default: this package's source), and whether tracked files differ from it."""
    folder = Path(folder) if folder is not None else Path(__file__).resolve().parent

    def git(*args: str) -> str | None:
        try:
            p = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return p.stdout.strip() if p.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None, "modified_files": None}
    # the code is what matters: reports and training runs written by benches do not make a tree dirty
    status = git("status", "--porcelain", "--untracked-files=no", "--", ":/", ":(top,exclude)reports", ":(top,exclude)runs") or ""
    modified = [line for line in status.splitlines() if line.strip()]
    return {"commit": commit, "dirty": bool(modified), "modified_files": len(modified)}


def memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def cpu_info() -> dict:
    """The CPU's model name and the widest vector instructions PyTorch's kernels may pick (``amx``,
    ``avx512``, ``avx2`` or ``other``): training and inference bits depend on them (Linux; else {})."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    model = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")), None)
    flags = set(next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), []))
    isa = "amx" if "amx_tile" in flags else "avx512" if "avx512f" in flags else "avx2" if "avx2" in flags else "other"
    return {"cpu": model, "vector_isa": isa}


def command_line(bench: str, argv: list[str] | None = None) -> str:
    """``timbrelab bench BENCH ARGS…``: from ``argv`` (the bench's own options) if given, else from
    ``sys.argv`` when it holds ``bench BENCH …``, else the bare command."""
    if argv is None:
        argv = sys.argv[3:] if sys.argv[1:3] == ["bench", bench] else []
    return " ".join(["timbrelab", "bench", bench, *argv])


def provenance(command: str, packages=DEFAULT_PACKAGES, **extra) -> dict:
    """The provenance block of a benchmark report (see the module docstring); ``extra`` is merged in."""
    return {
        "command": command,
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "git": git_state(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": {"cpus": os.cpu_count(), "memory_gb": memory_gb(), **cpu_info()},
        "packages": package_versions(packages),
        # training arithmetic is bit-reproducible only at a fixed thread count: record it where PyTorch is in use
        **({"torch_threads": sys.modules["torch"].get_num_threads()} if "torch" in sys.modules else {}),
        **extra,
    }


def markdown_footer(p: dict) -> str:
    """One line naming the command, the commit and the machine, for the end of a markdown table."""
    g = p["git"]
    commit = (g["commit"] or "?")[:10] + (" (with uncommitted changes)" if g.get("dirty") else "")
    pk = ", ".join(f"{k} {v}" for k, v in p["packages"].items() if v)
    return (f"Command: `{p['command']}` at commit {commit}, {p['date_utc']}. "
            f"Machine: {p['machine']['cpus']} CPUs" + (f" ({p['machine']['vector_isa']})" if p["machine"].get("vector_isa") else "")
            + f", {p['machine']['memory_gb']} GB, Python {p['python']}; {pk}.")
