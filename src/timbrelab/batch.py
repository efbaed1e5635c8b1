"""Batches of files that finish: collect the inputs of a command, run every one, summarise.

Shared by the batch commands (``apply``, ``classify``). The rules, stated once:

- **Inputs.** Each command-line input is a file or a folder. A folder contributes the files directly
  inside it (no recursion) whose extension timbrelab decodes (``timbrelab.audio.INPUT_EXTS``: what
  libsndfile reads, and through ffmpeg anything ffmpeg decodes — m4a, opus, aac, …). Hidden files
  (``.*``, which includes macOS ``._take1.wav`` sidecars) and files of other types are **skipped and
  listed** in the summary, never silently dropped; so are sub-folders. A file named explicitly is always
  tried, whatever its name.
- **Failures.** A file that cannot be processed (unreadable, corrupt, NaN samples, …) is recorded with
  its reason and the batch goes on. The summary lists processed / failed (with the reason per file) /
  skipped, and the command exits non-zero (1) if any file failed.
- **Ctrl-C / SIGTERM** stop the whole batch (the file in progress leaves no output).
- **Where the work runs**: here, on worker processes or on Ray (``--workers N`` / ``--ray``;
  :mod:`timbrelab.parallel`), with the same outputs and the same summary.
- **Resuming.** A batch that writes into a folder keeps a manifest there (:class:`Manifest`,
  ``.timbrelab-batch.jsonl``, a hidden file, so the folder can be a later batch's input): one line per
  finished file. Rerunning the same command after a crash or Ctrl-C processes only what is missing
  and says how many files it found already done; ``--redo`` processes everything again.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from timbrelab.errors import BadParameterError


@dataclass
class Skipped:
    path: Path
    reason: str


@dataclass
class Failed:
    path: Path
    reason: str


@dataclass
class BatchSummary:
    """What a batch did: ``processed`` (results in input order), ``failed`` and ``skipped`` (with reasons)."""

    processed: list = field(default_factory=list)  # [(path, result)]
    failed: list[Failed] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    already_done: list[Path] = field(default_factory=list)  # finished by an earlier run (the manifest says so)
    manifest: Path | None = None

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def lines(self) -> list[str]:
        """The end-of-batch summary, a line per failed or skipped file."""
        n = len(self.processed) + len(self.failed)
        out = [f"summary: {len(self.processed)} of {n} file{'s' if n != 1 else ''} processed, {len(self.failed)} failed, {len(self.skipped)} skipped"
               + (f"; {len(self.already_done)} already done by an earlier run, not processed again ({self.manifest}; --redo to process them again)"
                  if self.already_done else "")]
        out += [f"  failed:  {f.path}: {f.reason}" for f in self.failed]
        out += [f"  skipped: {s.path}: {s.reason}" for s in self.skipped]
        return out

    def to_dict(self) -> dict:
        return {
            "processed": [str(p) for p, _ in self.processed],
            "failed": [{"path": str(f.path), "reason": f.reason} for f in self.failed],
            "skipped": [{"path": str(s.path), "reason": s.reason} for s in self.skipped],
            "already_done": [str(p) for p in self.already_done],
        }


def is_hidden(path: Path) -> bool:
    return path.name.startswith(".")


def collect_inputs(items: Iterable[str | Path]) -> tuple[list[Path], list[Skipped]]:
    """Expand command-line inputs into files to process and files skipped (with the reason).

    Raises BadParameterError only when nothing at all can be processed, before anything is done.
    """
    from timbrelab.audio import INPUT_EXTS

    files: list[Path] = []
    skipped: list[Skipped] = []
    for it in items:
        p = Path(it)
        if not p.is_dir():
            files.append(p)  # named explicitly: always tried (a missing or bad file fails with its reason)
            continue
        for f in sorted(p.iterdir()):
            if is_hidden(f):
                skipped.append(Skipped(f, "hidden file" + (" (a macOS resource-fork sidecar)" if f.name.startswith("._") else "")))
            elif f.is_dir():
                skipped.append(Skipped(f, "a sub-folder (folders are not searched recursively)"))
            elif f.suffix.lower() not in INPUT_EXTS:
                skipped.append(Skipped(f, f"not an audio file type ('{f.suffix or '(none)'}')"))
            else:
                files.append(f)
    if not files:
        where = ", ".join(str(i) for i in items)
        raise BadParameterError(f"{where}: no audio files to process" + (f" ({len(skipped)} skipped: hidden or not audio)" if skipped else ""))
    return files, skipped


def output_names(files: list[Path], out_dir: Path, ext: str | None = None) -> list[Path]:
    """Where each input goes in an output folder: its own name, with ``ext`` if given.

    Refuses, before anything is processed, when two inputs would get the same output name
    (``takes/a.wav`` and ``takes/a.flac`` with ``--format flac``, or ``x/a.wav`` and ``y/a.wav``), or
    when an output would be one of the inputs.
    """
    targets = [out_dir / (f.stem + (ext or f.suffix)) for f in files]
    seen: dict[str, list[Path]] = {}
    for f, t in zip(files, targets):
        seen.setdefault(t.name.casefold(), []).append(f)  # case-insensitive: macOS/Windows folders are
    clashes = {k: v for k, v in seen.items() if len(v) > 1}
    if clashes:
        first = next(iter(clashes.values()))
        t = out_dir / (first[0].stem + (ext or first[0].suffix))
        more = f" (and {len(clashes) - 1} more clash{'es' if len(clashes) > 2 else ''})" if len(clashes) > 1 else ""
        raise BadParameterError(
            f"{' and '.join(str(f) for f in first)} would both be written to {t}{more}: nothing was processed; "
            "rename one, or process them into separate folders"
        )
    inputs = {_key(f) for f in files}
    for t in targets:
        if _key(t) in inputs:
            raise BadParameterError(f"the output {t} would overwrite an input: choose another output folder (inputs are never overwritten)")
    return targets


def _key(p: Path) -> str:
    try:
        return str(p.resolve())
    except OSError:
        return str(p.absolute())


def run_batch(files: list[Path], work: Callable[[Path], object], skipped: list[Skipped] | None = None,
              on_done: Callable[[Path, object], None] | None = None, on_fail: Callable[[Failed], None] | None = None,
              progress: bool | None = None, desc: str = "files", executor=None, manifest: "Manifest | None" = None) -> BatchSummary:
    """Run ``work(path)`` on every file, going on past failures; Ctrl-C / SIGTERM still stop the batch.

    ``executor``: where the work runs (:mod:`timbrelab.parallel`; None = here, one file after the other).
    With a parallel executor ``work`` must be picklable (a :class:`timbrelab.parallel.Task`); ``on_done``
    and ``on_fail`` are still called here, in input order. ``manifest``: files it says are finished are
    not run again (listed in ``already_done``), and each file that finishes is recorded in it.
    """
    from tqdm import tqdm

    from timbrelab.parallel import SerialExecutor

    summary = BatchSummary(skipped=list(skipped or []))
    if manifest is not None:
        finished = [manifest.finished(f) for f in files]
        summary.already_done = [f for f, done in zip(files, finished) if done]
        todo = [f for f, done in zip(files, finished) if not done]
        summary.manifest = manifest.path
        files = todo
        user_done = on_done

        def on_done(f, value):  # noqa: F811 — recorded first, so a crash right after still counts it
            manifest.record(f, value)
            if user_done:
                user_done(f, value)
    executor = executor or SerialExecutor()
    bar = tqdm(total=len(files), desc=desc, unit="file", disable=(progress is False or len(files) < 2) or None, leave=False)
    try:
        for f, ok, value in executor.run(work, files):
            bar.update(1)
            if ok:
                summary.processed.append((f, value))
                if on_done:
                    on_done(f, value)
                continue
            failed = Failed(f, value)
            summary.failed.append(failed)
            if on_fail:
                on_fail(failed)
    finally:
        bar.close()
    return summary


def print_summary(summary: BatchSummary, total_inputs: int, stream=None) -> None:
    """Print the summary when it says something a single-file run would not: always for batches."""
    stream = stream or sys.stdout
    if total_inputs > 1 or summary.skipped or summary.failed:
        for line in summary.lines():
            print(line, file=stream)


MANIFEST_NAME = ".timbrelab-batch.jsonl"
MANIFEST_FORMAT = "timbrelab-batch-manifest/1"


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


class Manifest:
    """What a batch finished, as JSON Lines: ``folder/.timbrelab-batch.jsonl`` for a batch that writes a
    file per input into ``folder`` (:meth:`in_folder`), ``.<name>.timbrelab-batch.jsonl`` beside the one
    results file of a batch that writes one (:meth:`beside`, e.g. ``classify -o results.json``).

    The first line is a header ``{"format", "command", "settings"}`` (``settings``: a hash of everything
    that changes the outputs — the effect plan and options, the model's file hash). Each later line is
    one finished file: its input (resolved path, size, mtime_ns) and its output (name, size, mtime_ns),
    or its result. A file counts as finished when its line matches the input as it is now **and** its
    output is still there, unchanged (or its result is recorded); anything else is processed again. A manifest made with other settings is
    replaced (the new run redoes everything). Lines are appended and flushed as files finish, so a
    crash loses at most the line being written (a torn last line is ignored).

    ``output_of(input) -> output path`` tells where each input's output is; ``keep(result)`` what of a
    result to record.
    """

    def __init__(self, path: Path, command: str, settings: dict, output_of: Callable[[Path], Path] | None = None,
                 redo: bool = False, keep: Callable[[object], object] | None = None):
        import hashlib
        import json

        self.path = Path(path)
        self.command = command
        self.key = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:32]
        self.output_of = output_of
        self.keep = keep
        self.entries: dict[str, dict] = {}
        self._fresh = True  # the file on disk is not (yet) ours: the first record rewrites it
        if not redo:
            self._load()

    @classmethod
    def in_folder(cls, folder: Path, command: str, settings: dict, output_of: Callable[[Path], Path], redo: bool = False) -> "Manifest":
        """The manifest of a batch that writes one output per input into ``folder``."""
        return cls(Path(folder) / MANIFEST_NAME, command, settings, output_of, redo)

    @classmethod
    def beside(cls, output: Path, command: str, settings: dict, keep: Callable[[object], object], redo: bool = False) -> "Manifest":
        """The manifest of a batch that writes one results file ``output``: ``.<name>.timbrelab-batch.jsonl``
        beside it, each line holding that file's result (``keep(result)``, JSON-able)."""
        output = Path(output)
        return cls(output.parent / f".{output.name}{MANIFEST_NAME}", command, settings, None, redo, keep)

    def result(self, src: Path):
        """The result recorded for ``src`` (with ``keep``), or None."""
        e = self.entries.get(self._input_key(src))
        return None if e is None else e.get("result")

    @staticmethod
    def _input_key(path: Path) -> str:
        try:
            return str(Path(path).resolve())
        except OSError:
            return str(Path(path).absolute())

    def _load(self) -> None:
        import json

        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            return
        try:
            head = json.loads(lines[0]) if lines else {}
        except ValueError:
            return
        if head.get("format") != MANIFEST_FORMAT or head.get("command") != self.command or head.get("settings") != self.key:
            return
        for line in lines[1:]:
            try:
                e = json.loads(line)
                self.entries[e["input"]] = e
            except (ValueError, KeyError, TypeError):
                continue  # a torn last line
        self._fresh = False

    def finished(self, src: Path) -> bool:
        e = self.entries.get(self._input_key(src))
        if e is None or _stat(src) != (e.get("size"), e.get("mtime_ns")):
            return False
        if self.output_of is None:
            return "result" in e
        out = self.output_of(src)
        return out.name == e.get("output") and _stat(out) == (e.get("output_size"), e.get("output_mtime_ns"))

    def record(self, src: Path, result=None) -> None:
        import json

        st_in = _stat(src)
        if st_in is None:
            return
        e = {"input": self._input_key(src), "size": st_in[0], "mtime_ns": st_in[1]}
        if self.output_of is not None:
            out = self.output_of(src)
            st_out = _stat(out)
            if st_out is None:
                return
            e.update({"output": out.name, "output_size": st_out[0], "output_mtime_ns": st_out[1]})
        if self.keep is not None:
            e["result"] = self.keep(result)
        self.entries[e["input"]] = e
        if self._fresh:  # a new manifest (or one for other settings): start the file again, atomically
            from timbrelab.io_utils import atomic_write_text

            head = {"format": MANIFEST_FORMAT, "command": self.command, "settings": self.key}
            atomic_write_text(self.path, json.dumps(head) + "\n")
            self._fresh = False
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(e) + "\n")
            f.flush()
