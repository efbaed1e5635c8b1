"""What runs inside the worker processes timbrelab starts (:mod:`timbrelab.parallel`), and only there.

A worker gives itself its share of the cores (``OMP_NUM_THREADS`` and PyTorch's intra-op threads),
leaves Ctrl-C to the parent, and turns its first SIGTERM into an unwinding exception. These are
process-global switches, which library code must not flip in a caller's process
(``tests/test_layering.py``): this module is the one place allowed to, because nothing imports it
except to start a worker.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from timbrelab.parallel import attempt

_WORKER_TASK = None


def limit_threads(n: int) -> None:
    """Give this (worker) process ``n`` intra-op threads: set before PyTorch or a BLAS is first used."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(n)
    import sys

    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)


def worker_init(task, threads: int) -> None:
    global _WORKER_TASK
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it stops the workers itself
    signal.signal(signal.SIGTERM, _on_term)  # unwinds, so a file being written leaves no temporary file
    limit_threads(threads)
    _WORKER_TASK = task


def _on_term(signum, frame):
    """The first SIGTERM unwinds the worker (``finally`` blocks remove temporary files); later ones
    (the pool's manager may terminate it too) are ignored, so they cannot cut that clean-up short."""
    from timbrelab.cli import Terminated

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated(signum)


def worker_run(path: Path) -> tuple[bool, object]:
    return attempt(_WORKER_TASK, path)


class RayWorker:
    """A Ray actor holding one task (its model loaded once, on first use)."""

    def __init__(self, task, threads: int):
        limit_threads(threads)
        self.task = task

    def run(self, path: str) -> tuple[bool, object]:
        return attempt(self.task, Path(path))
