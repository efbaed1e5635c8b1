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
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from timbrelab.errors import BadParameterError, TimbrelabError


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

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def lines(self) -> list[str]:
        """The end-of-batch summary, a line per failed or skipped file."""
        n = len(self.processed) + len(self.failed)
        out = [f"summary: {len(self.processed)} of {n} file{'s' if n != 1 else ''} processed, {len(self.failed)} failed, {len(self.skipped)} skipped"]
        out += [f"  failed:  {f.path}: {f.reason}" for f in self.failed]
        out += [f"  skipped: {s.path}: {s.reason}" for s in self.skipped]
        return out

    def to_dict(self) -> dict:
        return {
            "processed": [str(p) for p, _ in self.processed],
            "failed": [{"path": str(f.path), "reason": f.reason} for f in self.failed],
            "skipped": [{"path": str(s.path), "reason": s.reason} for s in self.skipped],
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
              progress: bool | None = None, desc: str = "files") -> BatchSummary:
    """Run ``work(path)`` on every file, going on past failures; Ctrl-C / SIGTERM still stop the batch."""
    from tqdm import tqdm

    summary = BatchSummary(skipped=list(skipped or []))
    bar = tqdm(files, desc=desc, unit="file", disable=(progress is False or len(files) < 2) or None, leave=False)
    try:
        for f in bar:
            try:
                result = work(f)
            except TimbrelabError as exc:
                failed = Failed(f, str(exc))
            except OSError as exc:
                failed = Failed(f, f"{exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else ""))
            except (MemoryError, RecursionError, ValueError, RuntimeError, TypeError, IndexError, KeyError, ZeroDivisionError) as exc:
                failed = Failed(f, f"internal error: {type(exc).__name__}: {exc}")
            else:
                summary.processed.append((f, result))
                if on_done:
                    on_done(f, result)
                continue
            prefix = f"{f.name}: "
            if failed.reason.startswith(prefix):  # the path is already named
                failed.reason = failed.reason[len(prefix):]
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
