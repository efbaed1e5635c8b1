"""The studio's files: one temporary folder, files served only by opaque ids, swept after a while.

``FileStore(root=None, keep_s=3600)`` makes its folder (``timbrelab-studio-*`` in the system's
temporary directory) and deletes it on :meth:`close`. Each request works in a job folder of its own
(:meth:`new_job`); what it creates and wants to serve is registered with :meth:`add`, which answers a
random 32-hex-digit id. :meth:`get` takes an id and nothing else: a request can never name a path, so
``../``, absolute or encoded paths cannot reach the file system. :meth:`sweep` deletes jobs older than
``keep_s`` seconds (the server sweeps every minute, and at shutdown deletes everything).
"""

from __future__ import annotations

import re
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ID_RE = re.compile(r"^[0-9a-f]{32}$")
DEFAULT_KEEP_S = 3600.0


@dataclass(frozen=True)
class StoredFile:
    path: Path
    name: str  # what a download is called
    media_type: str
    job: str


class FileStore:
    def __init__(self, root: Path | None = None, keep_s: float = DEFAULT_KEEP_S):
        self.root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="timbrelab-studio-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.keep_s = float(keep_s)
        self._files: dict[str, StoredFile] = {}
        self._jobs: dict[str, float] = {}
        self._lock = threading.Lock()
        self.closed = False

    def new_job(self) -> tuple[str, Path]:
        """A fresh job folder: ``(job id, folder)``."""
        job = secrets.token_hex(16)
        folder = self.root / job
        folder.mkdir()
        with self._lock:
            self._jobs[job] = time.monotonic()
        return job, folder

    def add(self, path: Path, name: str, media_type: str, job: str) -> str:
        """Serve ``path`` (a file inside ``job``'s folder) under a new id."""
        path = Path(path)
        if path.resolve().parent != (self.root / job).resolve():
            raise ValueError(f"{path} is not a file of job {job}")
        fid = secrets.token_hex(16)
        with self._lock:
            self._files[fid] = StoredFile(path, name, media_type, job)
        return fid

    def get(self, file_id: str) -> StoredFile | None:
        if not isinstance(file_id, str) or not ID_RE.match(file_id):
            return None
        with self._lock:
            f = self._files.get(file_id)
        return f if f is not None and f.path.is_file() else None

    def drop_job(self, job: str) -> None:
        with self._lock:
            self._jobs.pop(job, None)
            for fid in [k for k, f in self._files.items() if f.job == job]:
                del self._files[fid]
        shutil.rmtree(self.root / job, ignore_errors=True)

    def sweep(self, now: float | None = None) -> int:
        """Delete the jobs older than ``keep_s``; answers how many went."""
        now = time.monotonic() if now is None else now
        with self._lock:
            old = [j for j, t in self._jobs.items() if now - t > self.keep_s]
        for j in old:
            self.drop_job(j)
        return len(old)

    def close(self) -> None:
        with self._lock:
            self._files.clear()
            self._jobs.clear()
        shutil.rmtree(self.root, ignore_errors=True)
        self.closed = True
