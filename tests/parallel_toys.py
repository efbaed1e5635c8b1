"""Picklable toy tasks for tests/test_parallel.py (worker processes import them from here)."""

import os
from dataclasses import dataclass
from pathlib import Path

from timbrelab.errors import BadParameterError
from timbrelab.parallel import Task


@dataclass
class SizeTask(Task):
    """The file's size; a file named ``die*`` kills its worker process, ``bad*`` fails as a bad input does."""

    def __call__(self, path: Path) -> int:
        if path.name.startswith("die"):
            os._exit(3)
        if path.name.startswith("bad"):
            raise BadParameterError(f"{path.name}: not what I want")
        return path.stat().st_size


@dataclass
class CountingTask(Task):
    """The file's size; raises KeyboardInterrupt at the ``stop_at``-th call (a Ctrl-C in the middle)."""

    stop_at: int
    calls: int = 0

    def __call__(self, path: Path) -> int:
        self.calls += 1
        if self.calls == self.stop_at:
            raise KeyboardInterrupt
        return path.stat().st_size
