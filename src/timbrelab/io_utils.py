"""Atomic writes for results (JSON, markdown, PNG, HTML): a temp file beside the target, then rename."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from timbrelab.errors import BadParameterError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def publish(tmp, path) -> None:
    """Rename a finished temporary file onto ``path`` with the permissions a plain write would give
    (``mkstemp`` makes files private, 0600)."""
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, path)


@contextmanager
def atomic_path(path, suffix: str | None = None):
    """Yield a temporary path beside ``path``; it replaces ``path`` only if the block succeeds."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise BadParameterError(f"{path}: the folder {parent} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or path.suffix or ".part", dir=parent)
    os.close(fd)
    try:
        yield Path(tmp)
        publish(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def atomic_write_text(path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def save_figure(fig, path, **kwargs) -> Path:
    """Save a matplotlib figure atomically (format from the extension) and close it."""
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=Path(path).suffix.lstrip(".") or "png", **kwargs)
    plt.close(fig)
    return Path(path)
