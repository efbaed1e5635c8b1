"""A content-addressed cache of built data: spec → folder → manifest, verified on load.

A *spec* is a JSON-able dict that says everything the build depends on (settings, seeds, the
renderer's version). Its key is the SHA-256 of its canonical JSON (``spec_key``); the build lives in
``ROOT/NAMESPACE/NAME-KEY12`` (``KEY12``: the key's first 12 hex digits), where ``ROOT`` is
``$TIMBRELAB_CACHE`` or ``~/.cache/timbrelab``. The folder holds the files the builder wrote and
``manifest.json``::

    {"format": "timbrelab-cache/1", "key": "<sha256 of the spec>", "spec": {...},
     "files": {"audio.npy": "<sha256 of the file's bytes>", ...}, ...the builder's own fields}

``Cache.get(spec, name, build)`` returns the verified entry: if the folder is missing, it calls
``build(tmp_folder)`` — which writes its files there and returns extra manifest fields — hashes the
files, writes the manifest and renames the folder into place (a half-built set never appears). If the
folder exists, every file is checked against the manifest first (and the manifest against the spec):
on a mismatch, a missing file or a manifest of another layout the entry is rebuilt (``on_mismatch=
"rebuild"``, the default when a builder is given) or refused with a ``DataError`` (``"refuse"``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from timbrelab.errors import BadParameterError, TimbrelabError
from timbrelab.io_utils import file_sha256  # noqa: F401  (one home; cache users import it from here too)

FORMAT = "timbrelab-cache/1"
MANIFEST = "manifest.json"


class DataError(TimbrelabError):
    """A cached data set is damaged or does not match its manifest."""


def cache_root() -> Path:
    """``$TIMBRELAB_CACHE`` or ``~/.cache/timbrelab``."""
    return Path(os.environ.get("TIMBRELAB_CACHE") or Path.home() / ".cache" / "timbrelab")


def canonical_json(spec: dict) -> str:
    """The spec's JSON with sorted keys (``json.dumps(spec, sort_keys=True)``; NaN refused)."""
    try:
        return json.dumps(spec, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise BadParameterError(f"a data spec must be plain JSON (numbers, strings, lists, dicts): {exc}") from None


def spec_key(spec: dict) -> str:
    """SHA-256 (hex) of the spec's canonical JSON."""
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()




@dataclass
class Entry:
    """A verified build: its folder and manifest."""

    folder: Path
    manifest: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.manifest["key"]

    def path(self, name: str) -> Path:
        if name not in self.manifest["files"]:
            raise DataError(f"{self.folder.name} holds no file '{name}'")
        return self.folder / name


def verify(folder, spec: dict | None = None) -> list[str]:
    """Problems of a build folder (empty list: every file matches its manifest hash)."""
    folder = Path(folder)
    try:
        m = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return [f"{MANIFEST} is missing or unreadable"]
    if not isinstance(m, dict) or m.get("format") != FORMAT or not isinstance(m.get("files"), dict):
        return [f"{MANIFEST} is not a {FORMAT} manifest"]
    problems = []
    if spec is not None and m.get("key") != spec_key(spec):
        problems.append("the manifest was built from another spec")
    for name, digest in m["files"].items():
        p = folder / name
        if not p.is_file():
            problems.append(f"{name} is missing")
        elif file_sha256(p) != digest:
            problems.append(f"{name} does not match its manifest hash")
    return problems


class Cache:
    """Builds under ``root/namespace`` (``root`` default: :func:`cache_root` at call time)."""

    def __init__(self, namespace: str, root=None):
        if not namespace or "/" in namespace or namespace.startswith("."):
            raise BadParameterError(f"cache namespace must be a plain folder name, got {namespace!r}")
        self.namespace = namespace
        self.root = Path(root) if root is not None else None

    def folder(self, spec: dict, name: str) -> Path:
        if not name or "/" in name or name.startswith("."):
            raise BadParameterError(f"a data set name must be a plain folder name, got {name!r}")
        return (self.root or cache_root()) / self.namespace / f"{name}-{spec_key(spec)[:12]}"

    def load(self, spec: dict, name: str) -> Entry:
        """The verified build of ``spec``; ``DataError`` if it is missing or damaged."""
        folder = self.folder(spec, name)
        if not folder.exists():
            raise DataError(f"{folder.name} has not been built")
        problems = verify(folder, spec)
        if problems:
            raise DataError(f"the cached data set {folder.name} is damaged ({'; '.join(problems)}): delete {folder} or rebuild it")
        return Entry(folder, json.loads((folder / MANIFEST).read_text(encoding="utf-8")))

    def get(self, spec: dict, name: str, build: Callable[[Path], dict | None] | None = None, force: bool = False,
            on_mismatch: str = "rebuild", resumable: bool = False) -> Entry:
        """The verified build of ``spec``, building it with ``build(tmp_folder)`` if it is missing (or
        ``force``), and rebuilding a damaged one (``on_mismatch="rebuild"``) or refusing it (``"refuse"``).

        ``resumable``: the builder works in a persistent ``.NAME-KEY12.partial`` folder that is kept if
        the build is interrupted, so the next call hands it the same folder with what was already
        written (the builder must write each file atomically and skip the complete ones)."""
        if on_mismatch not in ("rebuild", "refuse"):
            raise BadParameterError(f"on_mismatch must be 'rebuild' or 'refuse', got {on_mismatch!r}")
        folder = self.folder(spec, name)
        if folder.exists() and not force:
            problems = verify(folder, spec)
            if not problems:
                return Entry(folder, json.loads((folder / MANIFEST).read_text(encoding="utf-8")))
            if on_mismatch == "refuse" or build is None:
                raise DataError(f"the cached data set {folder.name} is damaged ({'; '.join(problems)}): delete {folder} or rebuild it")
        if build is None:
            raise DataError(f"{folder.name} has not been built and no builder was given")
        if force and resumable:
            shutil.rmtree(self.partial_folder(spec, name), ignore_errors=True)
        return self._build(spec, folder, build, resumable)

    def partial_folder(self, spec: dict, name: str) -> Path:
        """Where a resumable build of ``spec`` keeps its finished pieces until it completes."""
        folder = self.folder(spec, name)
        return folder.parent / f".{folder.name}.partial"

    def _build(self, spec: dict, folder: Path, build: Callable, resumable: bool = False) -> Entry:
        folder.parent.mkdir(parents=True, exist_ok=True)
        if resumable:
            tmp = folder.parent / f".{folder.name}.partial"
            tmp.mkdir(exist_ok=True)
            (tmp / MANIFEST).unlink(missing_ok=True)
        else:
            tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            extra = build(tmp) or {}
            for p in tmp.glob("*.tmp"):  # a resumable builder's unfinished file from an interrupted run
                p.unlink()
            reserved = {"format", "key", "spec", "files"} & set(extra)
            if reserved:
                raise BadParameterError(f"a builder's manifest fields may not be named {sorted(reserved)}")
            files = {p.name: file_sha256(p) for p in sorted(tmp.iterdir()) if p.is_file() and p.name != MANIFEST}
            manifest = {"format": FORMAT, "key": spec_key(spec), "spec": json.loads(canonical_json(spec)), "files": files, **extra}
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
            mask = os.umask(0)
            os.umask(mask)
            os.chmod(tmp, 0o777 & ~mask)  # mkdtemp makes it private; a cache folder is as readable as any other
            if folder.exists():
                shutil.rmtree(folder)
            os.replace(tmp, folder)
        except BaseException:
            if not resumable and tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
            raise
        return Entry(folder, manifest)
