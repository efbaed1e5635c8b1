"""Search a folder of sounds with words: audio embeddings kept in an index that is updated incrementally.

:func:`update_index` brings the index of one folder up to date for one embedder (``timbrelab index``),
and :func:`search` ranks the folder's files by ``cos(audio embedding, text embedding of the query)``
(``timbrelab search``), after an update, or over an index as it is (``search --index DIR`` alone).

**What is indexed.** Every file under the folder, recursively, whose extension timbrelab decodes
(``timbrelab.audio.INPUT_EXTS``). Hidden files and folders (``.*``) are left out, and so are files of
other types (counted, not listed: a sample library holds artwork and notes). Symbolic links to files
are followed, links to folders are not (no loops). The folder is only read: nothing is written in it.

**Where.** An index is a folder: ``<cache_root>/search/<E>/<F>/`` by default
(``timbrelab.data.cache.cache_root()``: ``$TIMBRELAB_CACHE`` or ``~/.cache/timbrelab``), ``E`` = the
first 16 hex digits of the SHA-256 of the embedder's fingerprint
(:func:`~timbrelab.probe.describe.embedder_fingerprint`: its ``fingerprint``, else its ``name``), ``F``
= the same of the folder's resolved path; or any folder given as ``--index DIR`` (created if needed; a
folder that is neither empty nor a timbrelab index is refused). It holds:

- ``meta.sqlite`` (SQLite, Python's stdlib): a ``meta`` table (format ``timbrelab-search-index/2``,
  embedder name and fingerprint, folder, dimension, and the counts of rows and of failed files as of
  the last checkpoint) and a ``files`` table, one row per file: an
  integer ``key`` (its vector's key), its path relative to the folder (POSIX, unique), size in bytes,
  modification time in ns, and ``reason`` — NULL for an embedded file, why otherwise (a file that
  could not be embedded is kept, so an unchanged broken file is reported again without being decoded
  again). SQLite because it is in the standard library, transactional, and holds millions of rows.
  Plain rollback journal (not WAL), so an index on a read-only disk can still be searched.
- ``vectors.usearch``: the embeddings (float32, as the embedder gave them) in a usearch HNSW index,
  metric cosine, keyed by ``key`` (settings and the reasons for usearch: :mod:`timbrelab.probe.ann`).
- ``update.lock``: held while an update runs, so two processes never update one index at once (the
  second is refused in one line; searching an index as it is needs no lock).

An index of the earlier format ``/1`` (one NumPy ``.npz`` at ``<E>/<F>.npz``) is not migrated: it is
deleted and the folder embedded again (a note says so).

**Incremental.** On each update a file whose (size, mtime_ns) equals its row is reused; new and
changed files are embedded (a progress bar on a terminal; ``executor``: on worker processes or Ray,
:mod:`timbrelab.parallel`); a changed file's old vector is removed and the new one added under a new
key; rows and vectors of files that are gone are dropped. Keys are never reused.

**Resumable, never corrupt.** Work is saved in checkpoints: after every :data:`COMMIT_EVERY_FILES`
files embedded (or failed), or every ``save_every_s`` seconds, whichever comes first, at the end, and
when the update is interrupted (Ctrl-C, an error). A checkpoint writes the vectors first (a temporary
file in the index folder, then ``os.replace``), then commits the rows (one SQLite transaction), so a
crash at any moment leaves the last checkpoint's rows with at least their vectors. On load, rows of
embedded files whose key has no vector are dropped (those files are embedded again) and vectors with
no row are removed. An interrupted first run of a large library so keeps what it did. An index that
cannot be read, or that was made for another embedder, folder or format, is rebuilt (an index given
as ``--index DIR`` made for another folder or embedder is refused instead, unless ``rebuild``).

**Ranking** (:func:`rank`): scores are the cosine of the stored float32 vector (in float64) with the
query's text embedding, ties broken by path; a small index (≤ ``ann.NUMPY_MAX_VECTORS`` vectors) is
scored in full, a larger one by brute force up to ``ann.EXACT_MAX_VECTORS`` and through the HNSW graph
beyond (:mod:`timbrelab.probe.ann` states the rule).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from timbrelab.errors import BadParameterError

FORMAT = "timbrelab-search-index/2"
#: seconds between checkpoints while files are being embedded
SAVE_EVERY_S = 60.0
#: files embedded (or failed) between checkpoints
COMMIT_EVERY_FILES = 256
#: vectors added to the HNSW graph at once (one multi-threaded ``add``)
ADD_BATCH = 64
META_DB = "meta.sqlite"
VECTORS_FILE = "vectors.usearch"
LOCK_FILE = "update.lock"
#: what an index folder may hold (besides SQLite's journal and a vectors file being written)
INDEX_FILES = (META_DB, VECTORS_FILE, LOCK_FILE)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS files (key INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, size INTEGER NOT NULL,
                                  mtime_ns INTEGER NOT NULL, reason TEXT);
"""
#: what reading a damaged index may raise (SQLite, usearch, the file system)
_READ_ERRORS = (sqlite3.Error, ValueError, RuntimeError, OSError, KeyError, TypeError, OverflowError)


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
    """The folder where the index of ``folder`` (resolved) for the embedder ``fingerprint`` lives in the cache."""
    from timbrelab.data.cache import cache_root

    return Path(root or cache_root()) / "search" / _hash16(fingerprint) / _hash16(str(folder))


def is_index_dir(path) -> bool:
    """Whether ``path`` is a folder holding a timbrelab search index (its ``meta.sqlite``)."""
    return (Path(path) / META_DB).is_file()


def check_index_dir(index_dir) -> Path:
    """``index_dir`` as a path an index can be written to: a new folder, an empty one, or an index folder.
    BadParameterError (one line) for a file or a folder holding other things."""
    p = Path(index_dir).expanduser()
    if p.exists() and not p.is_dir():
        raise BadParameterError(f"--index {index_dir} is a file: give a folder for the index (it is created if needed)")
    if p.is_dir() and not is_index_dir(p):
        others = [c.name for c in p.iterdir() if c.name not in INDEX_FILES and not c.name.startswith(f".{VECTORS_FILE}.")]
        if others:
            raise BadParameterError(f"--index {index_dir} is not a timbrelab search index and is not empty "
                                    f"(it holds {others[0]!r}{' …' if len(others) > 1 else ''}): give a new or empty folder")
    return p


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


@dataclass(slots=True)
class Row:
    key: int  # the vector's key in vectors.usearch (a failed file has a key but no vector)
    size: int
    mtime_ns: int
    reason: str | None = None  # None: embedded; else why it could not be


class _Lock:
    """An exclusive lock on ``update.lock`` (``fcntl.flock``; none where there is no fcntl)."""

    def __init__(self, path: Path):
        self.path, self.fd = path, None

    def acquire(self) -> None:
        try:
            import fcntl
        except ImportError:  # Windows: no lock
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise BadParameterError(f"the index {self.path.parent} is being updated by another timbrelab "
                                    "(index or search): try again when it has finished") from None
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the file releases the lock
            self.fd = None


class SearchIndex:
    """One folder's index for one embedder (see the module docstring): rows in SQLite, vectors in usearch.

    Open it with :meth:`open` (to update; loads every row) or :meth:`open_readonly` (to search as it is:
    no row loaded, the vectors memory-mapped). ``rows`` (relative path → :class:`Row`) are only loaded
    for updates.
    """

    def __init__(self, path: Path, folder: Path, embedder: str, fingerprint: str, dim: int | None = None):
        self.path = Path(path)
        self.folder = Path(folder)
        self.embedder = embedder
        self.fingerprint = fingerprint
        self.dim = dim
        self.rows: dict[str, Row] = {}
        self.vectors = None  # usearch.index.Index, or None while nothing was embedded
        self.next_key = 0
        self.rows_count = 0  # rows in meta.sqlite (open_readonly)
        self.failed_count = 0  # rows of files that could not be embedded (open_readonly)
        self._db: sqlite3.Connection | None = None
        self._lock: _Lock | None = None
        self._dirty = False  # rows or vectors changed since the last checkpoint
        self._vectors_dirty = False
        self._pending: dict[int, np.ndarray] = {}  # key → vector, added to the graph by flush()

    # --- files of the index folder
    @property
    def db_path(self) -> Path:
        return self.path / META_DB

    @property
    def vectors_path(self) -> Path:
        return self.path / VECTORS_FILE

    def _connect(self) -> sqlite3.Connection:
        # autocommit: the transactions are explicit (BEGIN … COMMIT at each checkpoint)
        return sqlite3.connect(self.db_path, isolation_level=None, check_same_thread=False, timeout=30.0)

    def db(self) -> sqlite3.Connection:
        """The SQLite connection (opened again when closed: a search after an update)."""
        if self._db is None:
            self._db = self._connect()
        return self._db

    def _wipe(self) -> None:
        """Delete the index's files (a rebuild starts from nothing)."""
        self._close_db()
        self.rows.clear()
        self._pending.clear()
        self.vectors, self.next_key, self._dirty, self._vectors_dirty = None, 0, True, False
        for name in (META_DB, f"{META_DB}-journal", f"{META_DB}-wal", f"{META_DB}-shm", VECTORS_FILE):
            (self.path / name).unlink(missing_ok=True)
        for tmp in self.path.glob(f".{VECTORS_FILE}.*"):  # a save cut short
            tmp.unlink(missing_ok=True)

    def _close_db(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            if db.in_transaction:
                db.rollback()  # what was not checkpointed is not kept (its vectors may not be saved)
            db.close()

    def _meta(self) -> dict:
        return {"format": FORMAT, "embedder": self.embedder, "fingerprint": self.fingerprint, "folder": str(self.folder),
                "dim": "" if self.dim is None else str(self.dim)}

    def _create(self) -> None:
        db = self.db()
        db.executescript(_SCHEMA)
        db.execute("BEGIN")
        db.executemany("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", sorted(self._meta().items()))
        db.execute("COMMIT")

    @staticmethod
    def read_meta(path: Path) -> dict:
        """The ``meta`` table of the index folder ``path`` (raises sqlite3.Error when it cannot be read)."""
        db = sqlite3.connect(f"{(Path(path) / META_DB).resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
        try:
            return dict(db.execute("SELECT name, value FROM meta").fetchall())
        finally:
            db.close()

    # --- opening
    @classmethod
    def open(cls, path: Path, folder: Path, embedder: str, fingerprint: str, rebuild: bool = False,
             strict: bool = False) -> tuple["SearchIndex", str]:
        """The index at ``path`` for updating, locked until :meth:`close`: ``(index, why it was not reused or "")``.

        ``rebuild``: start from nothing. ``strict`` (an index folder the user named): one made for another
        folder or embedder is refused (BadParameterError) instead of being rebuilt.
        """
        idx = cls(path, folder, embedder, fingerprint)
        idx.path.mkdir(parents=True, exist_ok=True)
        idx._lock = _Lock(idx.path / LOCK_FILE)
        idx._lock.acquire()
        try:
            why = ""
            if rebuild or not idx.db_path.exists():
                idx._wipe()
            else:
                try:
                    meta = dict(idx.db().execute("SELECT name, value FROM meta").fetchall())
                    if meta.get("format") != FORMAT or meta.get("fingerprint") != fingerprint or meta.get("folder") != str(folder):
                        if strict and meta.get("format") == FORMAT:
                            raise BadParameterError(
                                f"--index {path} is the index of {meta.get('folder')} made with the embedder {meta.get('embedder')!r}, "
                                f"not of {folder} with {embedder!r}: give another --index folder, or --rebuild to replace it")
                        why = "the index was made for another embedder, folder or format: rebuilt"
                    else:
                        idx._load(meta)
                except BadParameterError:
                    raise
                except _READ_ERRORS as exc:  # a damaged index is not the user's problem: start again
                    why = f"the index could not be read ({type(exc).__name__}): rebuilt"
                if why:
                    idx._wipe()
            if not idx.db_path.exists():
                idx._create()
            idx.db().execute("BEGIN")
            return idx, why
        except BaseException:
            idx.close()
            raise

    def _load(self, meta: dict) -> None:
        from timbrelab.probe.ann import restore_index

        self.dim = int(meta["dim"]) if meta.get("dim") else None
        db = self.db()
        for key, p, size, mtime, reason in db.execute("SELECT key, path, size, mtime_ns, reason FROM files"):
            self.rows[p] = Row(int(key), int(size), int(mtime), None if reason is None else str(reason))
        if self.vectors_path.exists():
            self.vectors = restore_index(self.vectors_path)
            if self.dim is not None and self.vectors.ndim != self.dim:
                raise ValueError(f"the vectors have dimension {self.vectors.ndim}, the index {self.dim}")
            if self.dim is None:
                self.dim = int(self.vectors.ndim)
        keys = np.asarray(self.vectors.keys, dtype=np.uint64) if self.vectors is not None else np.zeros(0, np.uint64)
        # consistency: a checkpoint cut short between its two steps, or a crash before the first one
        with_vector = {r.key for r in self.rows.values() if r.reason is None}
        orphans = [int(k) for k in keys.tolist() if int(k) not in with_vector]
        if orphans:
            self.vectors.remove(np.array(orphans, dtype=np.uint64))
            self._vectors_dirty = self._dirty = True
        present = set(keys.tolist()) - set(orphans)
        lost = [p for p, r in self.rows.items() if r.reason is None and r.key not in present]
        if lost:
            db.execute("BEGIN")
            db.executemany("DELETE FROM files WHERE path = ?", [(p,) for p in lost])
            db.execute("COMMIT")
            for p in lost:
                del self.rows[p]
        self.next_key = 1 + max([int(keys.max()) if len(keys) else -1] + [r.key for r in self.rows.values()])

    @classmethod
    def open_readonly(cls, path, embedder: str, fingerprint: str) -> "SearchIndex":
        """The index folder ``path`` (made by ``timbrelab index``), to search as it is: nothing is written, no
        file of the folder is read. BadParameterError (one line) when it is not such an index, cannot be
        read, or was made with another embedder."""
        from timbrelab.probe.ann import restore_index

        p = Path(path).expanduser()
        make = f"make one with: timbrelab index FOLDER --index {path}"
        again = f"make it again with: timbrelab index FOLDER --index {path} --rebuild"
        if not p.exists():
            raise BadParameterError(f"--index {path}: no such folder ({make})")
        if not is_index_dir(p):
            raise BadParameterError(f"--index {path} is not a timbrelab search index ({make})")
        try:
            meta = cls.read_meta(p)
        except sqlite3.Error as exc:
            raise BadParameterError(f"--index {path}: the index cannot be read ({type(exc).__name__}: {exc}); "
                                    f"{again}") from None
        if meta.get("format") != FORMAT:
            raise BadParameterError(f"--index {path} is an index of another format ({meta.get('format')}): "
                                    f"{again}")
        if meta.get("folder"):
            import shlex

            again = again.replace("FOLDER", shlex.quote(str(meta["folder"])))
        if meta.get("fingerprint") != fingerprint:
            if meta.get("embedder") != embedder:
                raise BadParameterError(f"--index {path} was made with the embedder {meta.get('embedder')!r}, not {embedder!r}: "
                                        f"search it with --embedder {meta.get('embedder')}, or {again}")
            raise BadParameterError(f"--index {path} was made with another version of the embedder {embedder!r} (fingerprint "
                                    f"{str(meta.get('fingerprint'))[:16]}, this one {fingerprint[:16]}): "
                                    f"{again}")
        idx = cls(p, Path(meta.get("folder") or ""), embedder, fingerprint, int(meta["dim"]) if meta.get("dim") else None)
        try:
            if idx.vectors_path.exists():
                idx.vectors = restore_index(idx.vectors_path, view=True)
            if str(meta.get("files", "")).isdigit() and str(meta.get("failed", "")).isdigit():  # kept by each checkpoint
                idx.rows_count, idx.failed_count = int(meta["files"]), int(meta["failed"])
            else:
                counts = dict(idx.db().execute("SELECT reason IS NULL, COUNT(*) FROM files GROUP BY reason IS NULL").fetchall())
                idx.rows_count, idx.failed_count = int(counts.get(0, 0)) + int(counts.get(1, 0)), int(counts.get(0, 0))
        except _READ_ERRORS as exc:
            idx.close()
            raise BadParameterError(f"--index {path}: the index cannot be read ({type(exc).__name__}); "
                                    f"{again}") from None
        return idx

    def close(self) -> None:
        """Close the database (what was not checkpointed is dropped) and release the update lock."""
        self._close_db()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    # --- changes (in the open transaction; kept at the next checkpoint)
    def add(self, rel: str, size: int, mtime_ns: int, vector: np.ndarray | None = None, reason: str | None = None) -> None:
        """Record ``rel`` as embedded (``vector``) or failed (``reason``), replacing its row and vector if any.
        Vectors are added to the graph in batches of :data:`ADD_BATCH` (on every core)."""
        self.forget(rel)
        key = self.next_key
        self.next_key += 1
        if vector is not None:
            vector = np.asarray(vector, dtype=np.float32).ravel()
            if self.dim is None:
                self.dim = int(vector.shape[0])
            self._pending[key] = vector
            if len(self._pending) >= ADD_BATCH:
                self.flush()
        self.db().execute("INSERT INTO files (key, path, size, mtime_ns, reason) VALUES (?, ?, ?, ?, ?)",
                          (key, rel, int(size), int(mtime_ns), None if vector is not None else str(reason or "")))
        self.rows[rel] = Row(key, int(size), int(mtime_ns), None if vector is not None else str(reason or ""))
        self._dirty = True

    def flush(self) -> None:
        """Add the vectors waiting in :meth:`add`'s batch to the graph."""
        from timbrelab.probe.ann import new_index

        if not self._pending:
            return
        if self.vectors is None:
            self.vectors = new_index(self.dim)
        keys = np.fromiter(self._pending, dtype=np.uint64, count=len(self._pending))
        self.vectors.add(keys, np.stack(list(self._pending.values())), threads=0)
        self._pending.clear()
        self._vectors_dirty = True

    def forget(self, rel: str) -> bool:
        """Drop ``rel``'s row and vector; False when it had none."""
        row = self.rows.pop(rel, None)
        if row is None:
            return False
        if row.reason is None:
            if self._pending.pop(row.key, None) is None and self.vectors is not None:
                self.vectors.remove(row.key)
                self._vectors_dirty = True
        self.db().execute("DELETE FROM files WHERE key = ?", (row.key,))
        self._dirty = True
        return True

    def checkpoint(self) -> None:
        """Keep what was done: the vectors saved (atomically), then the rows committed (see the module docstring)."""
        from timbrelab.io_utils import atomic_path

        db = self.db()
        self.flush()
        if self._vectors_dirty and self.vectors is not None:
            with atomic_path(self.vectors_path) as tmp:
                self.vectors.save(os.fspath(tmp))
            self._vectors_dirty = False
        if not db.in_transaction:
            db.execute("BEGIN")
        failed = sum(1 for r in self.rows.values() if r.reason is not None)
        db.executemany("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)",
                       [("dim", "" if self.dim is None else str(self.dim)), ("files", str(len(self.rows))), ("failed", str(failed))])
        db.execute("COMMIT")
        db.execute("BEGIN")
        self._dirty = False

    # --- reading
    def __len__(self) -> int:
        """How many vectors (embedded files) the index holds."""
        return 0 if self.vectors is None else len(self.vectors)

    def paths_of(self, keys) -> dict[int, str]:
        """key → relative path, for the keys of embedded files among ``keys`` (None: every embedded file)."""
        db = self.db()
        if keys is None:
            return {int(k): p for k, p in db.execute("SELECT key, path FROM files WHERE reason IS NULL")}
        keys = [int(k) for k in keys]
        out = {}
        for i in range(0, len(keys), 500):  # SQLite's limit on parameters
            chunk = keys[i:i + 500]
            q = f"SELECT key, path FROM files WHERE reason IS NULL AND key IN ({','.join('?' * len(chunk))})"
            out.update({int(k): p for k, p in db.execute(q, chunk)})
        return out

    def matrix(self) -> tuple[list[str], np.ndarray]:
        """``(relative paths, float64 (n, d) embeddings)`` of the files that were embedded, sorted by path
        (every vector in memory: for small indexes and tests)."""
        self.flush()
        if not len(self):
            return [], np.zeros((0, self.dim or 0))
        keys = np.asarray(self.vectors.keys, dtype=np.uint64)
        vecs = _vectors_of(self.vectors, keys, int(self.vectors.ndim))
        names = self.paths_of(None)
        order = sorted((names[int(k)], i) for i, k in enumerate(keys.tolist()) if int(k) in names)
        return [p for p, _ in order], vecs[[i for _, i in order]].reshape(len(order), -1)


@dataclass
class Failure:
    path: str  # relative to the folder
    reason: str
    cached: bool = False  # True: the file is unchanged since the try that failed (not decoded again)


@dataclass
class IndexUpdate:
    """What :func:`update_index` did (``updated`` False: an index searched as it is, :func:`search` with
    ``index_dir`` and no folder; ``files`` is then what the index holds)."""

    index: SearchIndex
    files: int = 0  # audio files found
    embedded: int = 0  # new or changed files embedded now
    reused: int = 0  # unchanged files whose embedding was reused
    dropped: int = 0  # rows of files that are gone
    failed: list = field(default_factory=list)  # [Failure]
    other_files: int = 0  # files left out: hidden or not audio
    notes: list = field(default_factory=list)
    updated: bool = True

    def line(self) -> str:
        """One line: what was embedded, reused, dropped, failed."""
        if not self.updated:
            bad = self.index.failed_count
            return (f"{self.files} audio file{'s' if self.files != 1 else ''} in the index"
                    + (f" ({bad} could not be read when it was made)" if bad else "") + ", searched as it is (not updated)")
        parts = [f"{self.files} audio file{'s' if self.files != 1 else ''}: {self.embedded} embedded, {self.reused} reused"]
        if self.dropped:
            parts.append(f"{self.dropped} gone (dropped from the index)")
        if self.failed:
            parts.append(f"{len(self.failed)} could not be read")
        return ", ".join(parts)

    def to_dict(self, shown_folder: str | None = None) -> dict:
        """JSON-able; failed paths are joined to ``shown_folder`` (default the resolved folder)."""
        base = Path(shown_folder) if shown_folder is not None else self.index.folder
        return {"folder": str(self.index.folder), "embedder": self.index.embedder, "index": str(self.index.path),
                "files": self.files, "embedded": self.embedded, "reused": self.reused, "dropped": self.dropped,
                "failed": [{"path": str(base / f.path), "reason": f.reason} for f in self.failed], "notes": list(self.notes),
                "updated": self.updated}


def _is_serial(executor) -> bool:
    return executor is None or getattr(executor, "name", "") == "serial"


def update_index(embedder, folder, rebuild: bool = False, progress: bool | None = None,
                 on_fail: Callable[[Failure], None] | None = None, root: Path | None = None,
                 save_every_s: float = SAVE_EVERY_S, *, index_dir=None, executor=None, embedder_spec: str | None = None,
                 embedder_options: dict | None = None, commit_every_files: int = COMMIT_EVERY_FILES) -> IndexUpdate:
    """Bring the index of ``folder`` for ``embedder`` up to date (see the module docstring).

    ``rebuild``: ignore the stored index and embed every file again. ``progress``: a progress bar while
    embedding (None: only on a terminal). ``on_fail``: called with each :class:`Failure` as it is found
    (files that cannot be read are skipped, never fatal). ``root``: the cache root (default
    ``cache_root()``). ``index_dir``: keep the index in this folder instead of the cache
    (:func:`check_index_dir`). ``executor``: where files are embedded (:mod:`timbrelab.parallel`; None or
    a serial one: here, with ``embedder``); a parallel one embeds with
    ``EmbedTask(embedder_spec, embedder_options)``, which must build the same embedder.
    Raises BadParameterError when the folder does not exist or holds no audio file.
    """
    from timbrelab.batch import run_batch
    from timbrelab.probe.describe import embed_audio_file, embedder_fingerprint

    folder_path = resolve_folder(folder)
    fingerprint = embedder_fingerprint(embedder)
    if not _is_serial(executor) and not isinstance(embedder_spec, str):
        raise BadParameterError("--workers / --ray embed in other processes: they need the embedder as a name or "
                                "package.module:factory, not an embedder object")
    strict = index_dir is not None
    path = check_index_dir(index_dir) if strict else index_path(fingerprint, folder_path, root)
    files, others = audio_files(folder_path)
    if not files:
        raise BadParameterError(f"{folder}: no audio files in it or its sub-folders"
                                + (f" ({others} file{'s' if others != 1 else ''} of other types or hidden)" if others else ""))
    notes = []
    old = path.with_suffix(".npz") if not strict else None  # format /1, at the default place: not migrated
    if old is not None and old.is_file():
        old.unlink(missing_ok=True)
        notes.append("the index was made by an older timbrelab (format /1): rebuilt")
    idx, why = SearchIndex.open(path, folder_path, embedder.name, fingerprint, rebuild=rebuild, strict=strict)
    try:
        up = IndexUpdate(idx, files=len(files), other_files=others, notes=notes + ([why] if why else []))
        present = set(files)
        for p in [p for p in idx.rows if p not in present]:
            idx.forget(p)
            up.dropped += 1

        todo: list[tuple[str, int, int]] = []
        for rel in files:
            try:
                st = os.stat(folder_path / rel)
            except OSError:  # gone since the walk, or a dangling link: not a file of the folder now
                up.files -= 1
                idx.forget(rel)
                continue
            row = idx.rows.get(rel)
            if row is not None and row.size == st.st_size and row.mtime_ns == st.st_mtime_ns:
                if row.reason is None:
                    up.reused += 1
                else:
                    f = Failure(rel, row.reason, cached=True)
                    up.failed.append(f)
                    if on_fail:
                        on_fail(f)
                continue
            todo.append((rel, st.st_size, st.st_mtime_ns))

        if todo:
            stats = {folder_path / rel: (rel, size, mtime) for rel, size, mtime in todo}
            since = {"files": 0, "t": time.monotonic()}

            def maybe_checkpoint() -> None:
                since["files"] += 1
                if since["files"] >= commit_every_files or time.monotonic() - since["t"] >= save_every_s:
                    idx.checkpoint()
                    since["files"], since["t"] = 0, time.monotonic()

            if _is_serial(executor):
                def work(p: Path) -> np.ndarray:
                    return embed_audio_file(embedder, p)
            else:
                from timbrelab.parallel import EmbedTask

                work = EmbedTask(embedder_spec, dict(embedder_options or {}))

            def done(p: Path, vec: np.ndarray) -> None:
                rel, size, mtime = stats[p]
                vec = np.asarray(vec)
                if idx.dim is None:
                    idx.dim = int(vec.shape[0])
                elif vec.shape[0] != idx.dim:
                    raise BadParameterError(f"{embedder.name} gave a {vec.shape[0]}-dimensional embedding for {rel}, "
                                            f"{idx.dim} for the files before it (if the embedder changed, search again with --rebuild)")
                idx.add(rel, size, mtime, vector=vec)
                up.embedded += 1
                maybe_checkpoint()

            def failed(f) -> None:
                rel, size, mtime = stats[Path(f.path)]
                idx.add(rel, size, mtime, reason=f.reason)
                fail = Failure(rel, f.reason)
                up.failed.append(fail)
                if on_fail:
                    on_fail(fail)
                maybe_checkpoint()

            kw = {} if executor is None else {"executor": executor}
            try:
                run_batch(list(stats), work, on_done=done, on_fail=failed, progress=progress, desc="embedding", **kw)
            except BaseException:  # Ctrl-C, an error: keep what was done (best effort; the index stays whole either way)
                try:
                    idx.checkpoint()
                except Exception:
                    pass
                raise
        if idx._dirty or idx._vectors_dirty or why or notes:
            idx.checkpoint()
    finally:
        idx.close()
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
        return {"query": self.query, **u.to_dict(shown_folder), "folder": str(self.folder), "embedder": self.embedder,
                "results": [{"rank": i + 1, "path": str(base / p), "relative_path": p, "score": round(float(s), 4)}
                            for i, (p, s) in enumerate(self.results)]}


def _vectors_of(vectors, keys: np.ndarray, dim: int) -> np.ndarray:
    """The stored vectors of ``keys`` (all present), float64 ``(len(keys), dim)``."""
    if not len(keys):
        return np.zeros((0, dim))
    return np.stack(vectors.get(np.asarray(keys, dtype=np.uint64))).astype(np.float64).reshape(len(keys), dim)


def rank(index: SearchIndex, text_embedding, top: int) -> list[tuple[str, float]]:
    """The ``top`` files of the index by cosine with ``text_embedding``, best first (ties by path).

    Every vector scored for a small index (≤ ``ann.NUMPY_MAX_VECTORS``), else the ``top +
    ann.ANN_EXTRA_CANDIDATES`` candidates of usearch's exact search or of the HNSW graph
    (:func:`timbrelab.probe.ann.use_exact` states the rule), rescored in float64 from the stored vectors."""
    from timbrelab.probe import ann
    from timbrelab.probe.describe import unit

    index.flush()
    n = len(index)
    if n == 0:
        return []
    t = np.asarray(text_embedding, dtype=np.float64).ravel()
    d = int(index.vectors.ndim)
    if t.shape[0] != d:
        raise BadParameterError(f"the query's text embedding has dimension {t.shape[0]}, the audio embeddings {d}: "
                                "audio and text must share one space")
    if n <= ann.NUMPY_MAX_VECTORS:
        keys = np.asarray(index.vectors.keys, dtype=np.uint64)
    else:
        count = min(n, top + ann.ANN_EXTRA_CANDIDATES)
        if ann.use_exact(n, count):
            keys = np.asarray(index.vectors.search(t.astype(np.float32), count, exact=True).keys, dtype=np.uint64)
        else:
            keys = ann.ann_keys(index.vectors, t, count)
    m = _vectors_of(index.vectors, keys, d)
    names = index.paths_of(keys.tolist() if n > ann.NUMPY_MAX_VECTORS else None)
    keep = [i for i, k in enumerate(keys.tolist()) if int(k) in names]  # a vector saved, its row not yet committed
    paths = [names[int(keys[i])] for i in keep]
    s = unit(m[keep]) @ unit(t)
    order = sorted(range(len(paths)), key=lambda i: (-s[i], paths[i]))[:top]
    return [(paths[i], float(s[i])) for i in order]


def check_top(top) -> int:
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1:
        raise BadParameterError(f"--top must be a whole number of at least 1, got {top}")
    return int(top)


def search(embedder, query: str, folder=None, top: int = 10, rebuild: bool = False, progress: bool | None = None,
           on_fail: Callable[[Failure], None] | None = None, root: Path | None = None, *, index_dir=None,
           executor=None, embedder_spec: str | None = None, embedder_options: dict | None = None) -> SearchResult:
    """Rank the audio files under ``folder`` by cosine of their audio embedding with the text embedding
    of ``query`` (as given, no prompt template), after bringing the index up to date
    (:func:`update_index`; the other arguments are its).

    ``index_dir`` without ``folder``: search the index made there by ``timbrelab index`` as it is (no
    file of its folder is read, nothing is written); with ``folder``: update that index from it, then search.
    """
    from timbrelab.probe.describe import embed_texts, embedder_fingerprint

    query = str(query or "").strip()
    if not query:
        raise BadParameterError("the search query is empty: give words, e.g. \"warm mellow pad\"")
    top = check_top(top)
    if folder is None and index_dir is None:
        raise BadParameterError("give the folder to search, or --index DIR: an index made by `timbrelab index FOLDER --index DIR`")
    if folder is None:
        if rebuild:
            raise BadParameterError("--rebuild embeds the folder's files again: give the FOLDER too")
        idx = SearchIndex.open_readonly(index_dir, embedder.name, embedder_fingerprint(embedder))
        try:
            up = IndexUpdate(idx, files=idx.rows_count, reused=len(idx), updated=False)
            t = embed_texts(embedder, [query])[0]
            return SearchResult(query, idx.folder, rank(idx, t, top), up, embedder.name)
        finally:
            idx.close()
    up = update_index(embedder, folder, rebuild=rebuild, progress=progress, on_fail=on_fail, root=root, index_dir=index_dir,
                      executor=executor, embedder_spec=embedder_spec, embedder_options=embedder_options)
    t = embed_texts(embedder, [query])[0]
    try:
        return SearchResult(query, up.index.folder, rank(up.index, t, top), up, embedder.name)
    finally:
        up.index.close()
