"""Atomic writes for results (JSON, markdown, HTML; figures via timbrelab.plots.save): a temp file beside the target, then rename."""

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


def file_sha256(path) -> str:
    """SHA-256 (hex) of a file's bytes, read in 1 MiB chunks (weights, caches, provenance)."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def path_exists(path) -> bool:
    """``Path.exists`` that answers False instead of raising for names the system cannot hold
    (over 255 bytes, NUL characters ...): a description is text, never a file name."""
    try:
        return Path(path).exists()
    except (OSError, ValueError):
        return False


def check_writable_dir(folder, what: str = "output") -> Path:
    """Raise BadParameterError unless ``folder`` is an existing folder timbrelab can create files in.

    Tried for real (a temporary file created and removed), so a read-only mount is caught even for root.
    """
    folder = Path(folder) if str(folder) else Path(".")
    if not folder.exists():
        raise BadParameterError(f"the folder {folder} for the {what} does not exist")
    if not folder.is_dir():
        raise BadParameterError(f"{folder} is a file, not a folder (the {what} goes in a folder)")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".timbrelab-write-test.", dir=folder)
    except OSError as exc:
        raise BadParameterError(f"cannot write in {folder}: {exc.strerror or exc} (is it read-only?)") from None
    os.close(fd)
    os.unlink(tmp)
    return folder


def check_output_file(path, what: str = "output", suffixes: tuple[str, ...] | None = None) -> Path:
    """Validate a file to be written before any work is done: its folder exists and is writable, it is
    not a folder, and (if ``suffixes`` are given) its extension is one of them."""
    path = Path(path)
    if not path.name or path_exists(path) and path.is_dir():
        raise BadParameterError(f"{path} is a folder: the {what} needs a file name (e.g. {Path(path) / ('out' + (suffixes[0] if suffixes else ''))})")
    if suffixes is not None and path.suffix.lower() not in suffixes:
        raise BadParameterError(f"{path.name}: the {what} must end in {', '.join(suffixes)}")
    check_writable_dir(path.parent, what)
    return path


@contextmanager
def atomic_dir(path, replace_if=None):
    """Yield a temporary folder beside ``path``; it becomes ``path`` only if the block succeeds.

    An existing ``path`` is replaced only when ``replace_if(path)`` says so (e.g. "it is an earlier
    output of the same command"); otherwise BadParameterError, before any work. On failure or
    interruption the temporary folder is removed and ``path`` is untouched.
    """
    import shutil

    path = Path(path)
    if path_exists(path):
        if not path.is_dir():
            raise BadParameterError(f"{path} is a file: give a folder name for the output")
        if any(path.iterdir()) and not (replace_if and replace_if(path)):
            raise BadParameterError(f"{path} exists and holds other files: choose a new or empty folder (nothing was written)")
    parent = check_writable_dir(path.parent, "output")
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        old = None
        if path_exists(path):
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=parent))
            os.rmdir(old)
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
