"""Search a folder of sounds with words: audio embeddings kept in an index that is updated incrementally.

:func:`update_index` brings the index of one folder up to date for one embedder, and :func:`search`
ranks the folder's files by ``cos(audio embedding, text embedding of the query)``.

**What is indexed.** Every file under the folder, recursively, whose extension timbrelab decodes
(``timbrelab.audio.INPUT_EXTS``). Hidden files and folders (``.*``) are left out, and so are files of
other types (counted, not listed: a sample library holds artwork and notes). Symbolic links to files
are followed, links to folders are not (no loops). The folder is only read: nothing is written in it.

**Where.** ``<cache_root>/search/<E>/<F>.npz`` (``timbrelab.data.cache.cache_root()``:
``$TIMBRELAB_CACHE`` or ``~/.cache/timbrelab``), ``E`` = the first 16 hex digits of the SHA-256 of the
embedder's fingerprint (:func:`~timbrelab.probe.describe.embedder_fingerprint`: its ``fingerprint``, else
its ``name``), ``F`` = the same of the folder's resolved path. The file (NumPy ``.npz``, no pickles)
holds a JSON header (format, embedder name and fingerprint, folder, dimension) and one row per file:
its path relative to the folder (POSIX), size in bytes, modification time in ns and embedding
(float32, as the embedder gave it). Files that could not be embedded are kept too, with the reason, so
an unchanged broken file is reported again without being decoded again.

**Incremental.** On each update a file whose (size, mtime_ns) equals its row is reused; new and
changed files are embedded (a progress bar on a terminal); rows of files that are gone are dropped.
The index is written atomically (temporary file, then rename) at the end and every ``save_every_s``
seconds while embedding, so an interrupted first run of a large library keeps what it did. An index
that cannot be read, or that was made for another embedder, folder or format, is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from timbrelab.errors import BadParameterError

FORMAT = "timbrelab-search-index/1"
#: seconds between saves of the index while files are being embedded
SAVE_EVERY_S = 60.0


def _hash16(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def resolve_folder(folder) -> Path:
    """The folder as an absolute, resolved path; BadParameterError (one line) when it is not a folder."""
    p = Path(folder).expanduser()
    if not p.exists():
        raise BadParameterError(f"{folder}: no such folder")
    if not p.is_dir():
        raise BadParameterError(f"{folder} is a file: search takes a folder (describe or embed take files)")
    return p.resolve()


def index_path(fingerprint: str, folder: Path, root: Path | None = None) -> Path:
    """Where the index of ``folder`` (resolved) for the embedder ``fingerprint`` lives."""
    from timbrelab.data.cache import cache_root

    return Path(root or cache_root()) / "search" / _hash16(fingerprint) / f"{_hash16(str(folder))}.npz"


def audio_files(folder: Path) -> tuple[list[str], int]:
    """``(relative POSIX paths of the audio files under folder, sorted; how many other files were left out)``."""
    from timbrelab.audio import INPUT_EXTS

    found, others = [], 0
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        base = Path(dirpath)
        for name in filenames:
            if name.startswith(".") or Path(name).suffix.lower() not in INPUT_EXTS:
                others += 1
                continue
            found.append((base / name).relative_to(folder).as_posix())
    return sorted(found), others


@dataclass
class Row:
    size: int
    mtime_ns: int
    vector: np.ndarray | None = None  # None: could not be embedded (then ``reason``)
    reason: str = ""


@dataclass
class SearchIndex:
    """The rows of one folder's index for one embedder (see the module docstring)."""

    path: Path
    folder: Path
    embedder: str
    fingerprint: str
    rows: dict = field(default_factory=dict)  # relative path → Row
    dim: int | None = None

    @classmethod
    def load(cls, path: Path, folder: Path, embedder: str, fingerprint: str) -> tuple["SearchIndex", str]:
        """The index at ``path``, or an empty one: ``(index, why it was not reused or "")``."""
        idx = cls(Path(path), folder, embedder, fingerprint)
        if not idx.path.exists():
            return idx, ""
        try:
            with np.load(idx.path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                if meta.get("format") != FORMAT or meta.get("fingerprint") != fingerprint or meta.get("folder") != str(folder):
                    return idx, "the index was made for another embedder, folder or format: rebuilt"
                dim = meta.get("dim")
                paths, sizes, mtimes, vectors = z["paths"], z["sizes"], z["mtimes_ns"], z["vectors"]
                for i, p in enumerate(paths.tolist()):
                    idx.rows[p] = Row(int(sizes[i]), int(mtimes[i]), np.asarray(vectors[i], np.float32))
                for p, s, m, r in zip(z["failed_paths"].tolist(), z["failed_sizes"].tolist(), z["failed_mtimes_ns"].tolist(),
                                      z["failed_reasons"].tolist()):
                    idx.rows[p] = Row(int(s), int(m), None, str(r))
                idx.dim = int(dim) if dim is not None else None
        except Exception as exc:  # a damaged cache file is not the user's problem: start again
            idx.rows.clear()
            idx.dim = None
            return idx, f"the index could not be read ({type(exc).__name__}): rebuilt"
        return idx, ""

    def save(self) -> None:
        """Write the index atomically (the folder under the cache is created if needed)."""
        from timbrelab.io_utils import atomic_path

        ok = sorted(p for p, r in self.rows.items() if r.vector is not None)
        bad = sorted(p for p, r in self.rows.items() if r.vector is None)
        d = self.dim or 0
        meta = {"format": FORMAT, "embedder": self.embedder, "fingerprint": self.fingerprint, "folder": str(self.folder), "dim": self.dim}
        arrays = {
            "meta": np.array(json.dumps(meta)),
            "paths": np.array(ok, dtype=str).reshape(-1),
            "sizes": np.array([self.rows[p].size for p in ok], dtype=np.int64),
            "mtimes_ns": np.array([self.rows[p].mtime_ns for p in ok], dtype=np.int64),
            "vectors": np.array([self.rows[p].vector for p in ok], dtype=np.float32).reshape(len(ok), d),
            "failed_paths": np.array(bad, dtype=str).reshape(-1),
            "failed_sizes": np.array([self.rows[p].size for p in bad], dtype=np.int64),
            "failed_mtimes_ns": np.array([self.rows[p].mtime_ns for p in bad], dtype=np.int64),
            "failed_reasons": np.array([self.rows[p].reason for p in bad], dtype=str).reshape(-1),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)

    def matrix(self) -> tuple[list[str], np.ndarray]:
        """``(relative paths, float64 (n, d) embeddings)`` of the files that were embedded, sorted by path."""
        ok = sorted(p for p, r in self.rows.items() if r.vector is not None)
        if not ok:
            return [], np.zeros((0, self.dim or 0))
        return ok, np.stack([self.rows[p].vector for p in ok]).astype(np.float64)


@dataclass
class Failure:
    path: str  # relative to the folder
    reason: str
    cached: bool = False  # True: the file is unchanged since the try that failed (not decoded again)


@dataclass
class IndexUpdate:
    """What :func:`update_index` did."""

    index: SearchIndex
    files: int = 0  # audio files found
    embedded: int = 0  # new or changed files embedded now
    reused: int = 0  # unchanged files whose embedding was reused
    dropped: int = 0  # rows of files that are gone
    failed: list = field(default_factory=list)  # [Failure]
    other_files: int = 0  # files left out: hidden or not audio
    notes: list = field(default_factory=list)

    def line(self) -> str:
        """One line: what was embedded, reused, dropped, failed."""
        parts = [f"{self.files} audio file{'s' if self.files != 1 else ''}: {self.embedded} embedded, {self.reused} reused"]
        if self.dropped:
            parts.append(f"{self.dropped} gone (dropped from the index)")
        if self.failed:
            parts.append(f"{len(self.failed)} could not be read")
        return ", ".join(parts)


def update_index(embedder, folder, rebuild: bool = False, progress: bool | None = None,
                 on_fail: Callable[[Failure], None] | None = None, root: Path | None = None,
                 save_every_s: float = SAVE_EVERY_S) -> IndexUpdate:
    """Bring the index of ``folder`` for ``embedder`` up to date (see the module docstring).

    ``rebuild``: ignore the stored index and embed every file again. ``progress``: a progress bar while
    embedding (None: only on a terminal). ``on_fail``: called with each :class:`Failure` as it is found
    (files that cannot be read are skipped, never fatal). ``root``: the cache root (default
    ``cache_root()``). Raises BadParameterError when the folder does not exist or holds no audio file.
    """
    from timbrelab.batch import run_batch
    from timbrelab.probe.describe import embed_audio_file, embedder_fingerprint

    folder_path = resolve_folder(folder)
    fingerprint = embedder_fingerprint(embedder)
    path = index_path(fingerprint, folder_path, root)
    files, others = audio_files(folder_path)
    if not files:
        raise BadParameterError(f"{folder}: no audio files in it or its sub-folders"
                                + (f" ({others} file{'s' if others != 1 else ''} of other types or hidden)" if others else ""))
    if rebuild:
        idx, why = SearchIndex(path, folder_path, embedder.name, fingerprint), ""
    else:
        idx, why = SearchIndex.load(path, folder_path, embedder.name, fingerprint)
    up = IndexUpdate(idx, files=len(files), other_files=others, notes=[why] if why else [])
    changed = rebuild or bool(why) or not path.exists()

    present = set(files)
    for p in [p for p in idx.rows if p not in present]:
        del idx.rows[p]
        up.dropped += 1
    changed = changed or up.dropped > 0

    todo: list[tuple[str, int, int]] = []
    for rel in files:
        try:
            st = os.stat(folder_path / rel)
        except OSError:  # gone since the walk, or a dangling link: not a file of the folder now
            up.files -= 1
            idx.rows.pop(rel, None)
            continue
        row = idx.rows.get(rel)
        if row is not None and row.size == st.st_size and row.mtime_ns == st.st_mtime_ns:
            if row.vector is not None:
                up.reused += 1
            else:
                f = Failure(rel, row.reason, cached=True)
                up.failed.append(f)
                if on_fail:
                    on_fail(f)
            continue
        todo.append((rel, st.st_size, st.st_mtime_ns))

    if todo:
        changed = True
        stats = {folder_path / rel: (rel, size, mtime) for rel, size, mtime in todo}
        last_save = time.monotonic()

        def work(p: Path) -> np.ndarray:
            return embed_audio_file(embedder, p)

        def done(p: Path, vec: np.ndarray) -> None:
            nonlocal last_save
            rel, size, mtime = stats[p]
            if idx.dim is None:
                idx.dim = int(vec.shape[0])
            elif vec.shape[0] != idx.dim:
                raise BadParameterError(f"{embedder.name} gave a {vec.shape[0]}-dimensional embedding for {rel}, "
                                        f"{idx.dim} for the files before it (if the embedder changed, search again with --rebuild)")
            idx.rows[rel] = Row(size, mtime, vec.astype(np.float32))
            up.embedded += 1
            if time.monotonic() - last_save > save_every_s:
                idx.save()
                last_save = time.monotonic()

        def failed(f) -> None:
            rel, size, mtime = stats[f.path]
            idx.rows[rel] = Row(size, mtime, None, f.reason)
            fail = Failure(rel, f.reason)
            up.failed.append(fail)
            if on_fail:
                on_fail(fail)

        run_batch(list(stats), work, on_done=done, on_fail=failed, progress=progress, desc="embedding")
    if changed:
        idx.save()
    up.failed.sort(key=lambda f: f.path)
    return up


@dataclass
class SearchResult:
    """A ranked search: ``results`` are ``(relative path, score)``, best first; ``update`` says what the
    index update did."""

    query: str
    folder: Path
    results: list
    update: IndexUpdate
    embedder: str = ""

    def to_dict(self, shown_folder: str | None = None) -> dict:
        """JSON-able; paths are joined to ``shown_folder`` (default the resolved folder)."""
        base = Path(shown_folder) if shown_folder is not None else self.folder
        u = self.update
        return {"query": self.query, "folder": str(self.folder), "embedder": self.embedder, "index": str(u.index.path),
                "files": u.files, "embedded": u.embedded, "reused": u.reused, "dropped": u.dropped,
                "failed": [{"path": str(base / f.path), "reason": f.reason} for f in u.failed], "notes": list(u.notes),
                "results": [{"rank": i + 1, "path": str(base / p), "relative_path": p, "score": round(float(s), 4)}
                            for i, (p, s) in enumerate(self.results)]}


def rank(index: SearchIndex, text_embedding, top: int) -> list[tuple[str, float]]:
    """The ``top`` files of the index by cosine with ``text_embedding``, best first (ties by path)."""
    from timbrelab.probe.describe import unit

    paths, m = index.matrix()
    if not paths:
        return []
    t = np.asarray(text_embedding, dtype=np.float64).ravel()
    if t.shape[0] != m.shape[1]:
        raise BadParameterError(f"the query's text embedding has dimension {t.shape[0]}, the audio embeddings {m.shape[1]}: "
                                "audio and text must share one space")
    s = unit(m) @ unit(t)
    order = sorted(range(len(paths)), key=lambda i: (-s[i], paths[i]))[:top]
    return [(paths[i], float(s[i])) for i in order]


def check_top(top) -> int:
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1:
        raise BadParameterError(f"--top must be a whole number of at least 1, got {top}")
    return int(top)


def search(embedder, query: str, folder, top: int = 10, rebuild: bool = False, progress: bool | None = None,
           on_fail: Callable[[Failure], None] | None = None, root: Path | None = None) -> SearchResult:
    """Rank the audio files under ``folder`` by cosine of their audio embedding with the text embedding
    of ``query`` (as given, no prompt template), after bringing the index up to date
    (:func:`update_index`; the other arguments are its)."""
    from timbrelab.probe.describe import embed_texts

    query = str(query or "").strip()
    if not query:
        raise BadParameterError("the search query is empty: give words, e.g. \"warm mellow pad\"")
    top = check_top(top)
    up = update_index(embedder, folder, rebuild=rebuild, progress=progress, on_fail=on_fail, root=root)
    t = embed_texts(embedder, [query])[0]
    return SearchResult(query, up.index.folder, rank(up.index, t, top), up, embedder.name)
