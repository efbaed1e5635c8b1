"""Run a batch's per-file work in this process, on worker processes, or as Ray tasks — with the same results.

A batch command (``apply``, ``classify``, ``index``) turns its options into a **task**: a picklable
object called once per file (``task(path) -> result``) that builds its heavy state (a loaded model, a
service) lazily, in the process that runs it, and leaves that state behind when it is pickled. An
**executor** runs the task on a list of files and yields ``(path, ok, result or reason)`` in *input
order*, whatever order the files finish in, so what a command prints and writes does not depend on
the executor:

- :class:`SerialExecutor` (``--workers 1``, the default): the files one after the other, here.
- :class:`ProcessExecutor` (``--workers N``): N worker processes of this machine (``forkserver``
  start: a clean process, never a fork of one that already runs PyTorch threads). Each worker gets
  the task once, at start, so a model loads once per worker, not once per file.
- :class:`RayExecutor` (``--ray [ADDRESS]``): the same work as Ray actors — one per worker, each
  holding the task — on a local Ray instance (no address) or an existing cluster (``ray://…`` or
  ``HOST:PORT``; the files must then be readable and writable at the same paths on every node, e.g. a
  shared file system). Ray is an optional extra: ``pip install "timbrelab[ray]"``.

**The same bits.** Every executor runs the same function on the same file. Each process of a
parallel executor is given ``threads_per_worker`` intra-op threads (cores ÷ workers, at least 1), the
thread counts PyTorch and the BLAS libraries then use (set in the worker, by
:mod:`timbrelab.parallel_worker`, never in the calling process); timbrelab's DSP (FFTs, IIR filters) and its
CNN inference give the same bits whatever their thread count (``tests/test_parallel.py`` checks the
outputs of ``apply`` and ``classify`` byte for byte across executors).

**Failures** are classified where the file ran, by one rule (:func:`attempt`): the errors a bad input
raises (timbrelab's own, OS errors, decoder and numeric errors) fail that file and the batch goes on;
anything else is a bug and stops the batch, as it would in one process. A worker process that dies
(killed for memory, a crash in a native library) is replaced; the files that were in flight then run
again one at a time, so only the file that kills its worker fails (with that reason).
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from timbrelab.errors import BadParameterError, MissingComponentError, TimbrelabError

#: errors a bad input file raises: the file fails, the batch goes on (anything else stops the batch)
FILE_ERRORS = (MemoryError, RecursionError, ValueError, RuntimeError, TypeError, IndexError, KeyError, ZeroDivisionError)


def attempt(work: Callable, path: Path) -> tuple[bool, object]:
    """``(True, work(path))``, or ``(False, one-line reason)`` when ``path`` cannot be processed."""
    try:
        return True, work(path)
    except TimbrelabError as exc:
        reason = str(exc)
    except OSError as exc:
        reason = f"{exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else "")
    except FILE_ERRORS as exc:
        reason = f"internal error: {type(exc).__name__}: {exc}"
    prefix = f"{Path(path).name}: " if isinstance(path, (str, os.PathLike)) else None  # items may be other things (shard numbers)
    if prefix and reason.startswith(prefix):  # the path is already named by the caller
        reason = reason[len(prefix):]
    return False, reason


def cpu_count() -> int:
    """Cores this process may use (the affinity mask where the OS gives one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def threads_per_worker(workers: int) -> int:
    return max(1, cpu_count() // max(1, workers))


class Task:
    """Base of per-file tasks: the attributes named in ``_local`` (heavy, per-process state) are not pickled."""

    _local: tuple[str, ...] = ()

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        for name in self._local:
            state[name] = None
        return state


# ------------------------------------------------------------------------------------------- executors
class SerialExecutor:
    """The files one after the other, in this process (the default)."""

    name = "serial"
    workers = 1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return "1 process"

    def run(self, task: Callable, files: Iterable[Path]) -> Iterator[tuple[Path, bool, object]]:
        for f in files:
            ok, value = attempt(task, f)
            yield f, ok, value


class _Ordered:
    """Results re-ordered into input order: ``put(i, item)`` as they finish, ``ready()`` yields the prefix."""

    def __init__(self):
        self.next = 0
        self.waiting: dict[int, tuple] = {}

    def put(self, i: int, item: tuple) -> None:
        self.waiting[i] = item

    def ready(self) -> Iterator[tuple]:
        while self.next in self.waiting:
            yield self.waiting.pop(self.next)
            self.next += 1


class ProcessExecutor:
    """``workers`` processes of this machine (see the module docstring)."""

    name = "processes"

    def __init__(self, workers: int):
        self.workers = int(workers)
        self.threads = threads_per_worker(self.workers)
        self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close(cancel=exc[0] is not None)

    def describe(self) -> str:
        return f"{self.workers} worker processes ({self.threads} thread{'s' if self.threads != 1 else ''} each)"

    def _start(self, task):
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        from timbrelab.parallel_worker import worker_init

        ctx = mp.get_context("forkserver")
        self._pool = ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=worker_init, initargs=(task, self.threads))

    def close(self, cancel: bool = False) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if cancel:  # stop now: the files in progress unwind (their temporary files are removed)
            procs = list(getattr(pool, "_processes", {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for p in procs:
                if p.is_alive():
                    p.terminate()
            for p in procs:
                p.join(timeout=10)
        else:
            pool.shutdown(wait=True)

    def run(self, task: Callable, files: Iterable[Path]) -> Iterator[tuple[Path, bool, object]]:
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        from timbrelab.parallel_worker import worker_run

        files = list(files)
        if self._pool is None:
            self._start(task)
        order, todo = _Ordered(), deque(enumerate(files))
        suspects: deque = deque()  # in flight when a worker died: run again alone, to find the one that kills
        window = max(4 * self.workers, 8)
        running: dict = {}
        while todo or running or suspects:
            if suspects:
                if not running:
                    i = suspects.popleft()
                    running[self._pool.submit(worker_run, files[i])] = i
            else:
                while todo and len(running) + len(order.waiting) < window:
                    i, f = todo.popleft()
                    running[self._pool.submit(worker_run, f)] = i
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            broken = False
            for fut in done:
                i = running.pop(fut)
                try:
                    ok, value = fut.result()
                except BrokenProcessPool:
                    broken = True
                    if len(done) + len(running) > 1:  # not alone: cannot tell which file killed it yet
                        suspects.append(i)
                        continue
                    ok, value = False, "the worker process processing it died (killed for memory, or a crash in a native library)"
                order.put(i, (files[i], ok, value))
            if broken:
                suspects.extend(sorted(running.values()))
                running.clear()
                self.close(cancel=True)
                self._start(task)
            yield from order.ready()


class RayExecutor:
    """The work as Ray actors (see the module docstring)."""

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None):
        try:
            import ray
        except ImportError:
            raise MissingComponentError('--ray needs Ray, an optional extra: pip install "timbrelab[ray]"') from None
        self._ray = ray
        self.address = address or None
        self._started_here = False
        if not ray.is_initialized():
            kw = dict(include_dashboard=False, log_to_driver=False, configure_logging=True, logging_level="ERROR")
            if self.address is None:
                kw["num_cpus"] = int(workers) if workers else cpu_count()
                # Ray starts its workers at niceness 15 by default: the work the user asked for would then
                # wait behind anything else this machine runs. A local instance runs them at normal priority.
                kw["_system_config"] = {"worker_niceness": 0}
            try:
                ray.init(address=self.address, **kw)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise BadParameterError(f"--ray {self.address or ''}: cannot start or reach Ray: {str(exc).splitlines()[0]}".replace("  ", " ")) from None
            self._started_here = True
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.workers = int(workers) if workers else max(1, cpus)
        self.threads = max(1, cpus // self.workers) if self.address is None else 1
        self._actors: list = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def describe(self) -> str:
        where = f"the Ray cluster at {self.address}" if self.address else "a local Ray instance"
        return f"{self.workers} Ray actor{'s' if self.workers != 1 else ''} on {where}"

    def close(self) -> None:
        for a in self._actors:
            try:
                self._ray.kill(a)
            except Exception:  # an actor already gone
                pass
        self._actors = []
        if self._started_here and self._ray.is_initialized():
            self._ray.shutdown()
            self._started_here = False

    def run(self, task: Callable, files: Iterable[Path]) -> Iterator[tuple[Path, bool, object]]:
        from timbrelab.parallel_worker import RayWorker

        ray = self._ray
        files = list(files)
        actor_cls = ray.remote(num_cpus=self.threads if self.address is None else 1)(RayWorker)
        self._actors = [actor_cls.remote(task, self.threads) for _ in range(self.workers)]
        order, todo = _Ordered(), deque(enumerate(files))
        free = deque(range(self.workers))
        running: dict = {}  # ref → (file index, actor index)
        while todo or running:
            while todo and free and len(order.waiting) < 8 * self.workers:
                i, f = todo.popleft()
                a = free.popleft()
                running[self._actors[a].run.remote(str(f))] = (i, a)
            done, _ = ray.wait(list(running), num_returns=1)
            for ref in done:
                i, a = running.pop(ref)
                try:
                    ok, value = ray.get(ref)
                except ray.exceptions.RayActorError as exc:  # the actor's process died: replace it
                    ok, value = False, f"the Ray worker processing it died ({type(exc).__name__})"
                    self._actors[a] = actor_cls.remote(task, self.threads)
                order.put(i, (files[i], ok, value))
                free.append(a)
            yield from order.ready()


# ------------------------------------------------------------------------------------------- CLI
def make_executor(workers: int | None = None, ray: str | bool | None = None):
    """The executor for ``--workers N`` / ``--ray [ADDRESS]`` (``ray``: False/None = no Ray, True or "" =
    a local Ray instance, a string = that cluster's address). ``workers`` None: 1 here; on Ray, one
    actor per CPU of the instance or cluster."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or not (1 <= workers <= 4096)):
        raise BadParameterError(f"--workers must be a whole number 1 … 4096, got {workers}")
    if ray is not None and ray is not False:
        return RayExecutor(None if ray is True else (str(ray) or None), workers)
    return SerialExecutor() if workers in (None, 1) else ProcessExecutor(workers)


def add_executor_args(parser) -> None:
    """``--workers N`` and ``--ray [ADDRESS]`` on a batch command's parser."""
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="process the files on N worker processes of this machine (default: 1, in this process; "
                             "with --ray: one Ray worker per CPU of the instance or cluster)")
    parser.add_argument("--ray", nargs="?", const=True, default=None, metavar="ADDRESS",
                        help="run the work as Ray tasks: a local Ray instance, or the cluster at ADDRESS "
                             "(needs the extra: pip install \"timbrelab[ray]\"); --workers then sets the number of Ray workers")


def executor_from_args(args):
    """The executor a batch command's ``--workers`` / ``--ray`` ask for (a context manager)."""
    return make_executor(getattr(args, "workers", None), getattr(args, "ray", None))


# ------------------------------------------------------------------------------------------- tasks
@dataclass
class EmbedTask(Task):
    """Embed an audio file with the language–audio embedder ``spec`` (built once per process)."""

    spec: str
    options: dict
    _embedder: object = None
    _local = ("_embedder",)

    def __call__(self, path: Path):
        from timbrelab.probe.describe import embed_audio_file

        if self._embedder is None:
            from timbrelab.probe.embedders import load_embedder

            self._embedder = load_embedder(self.spec, **dict(self.options or {}))
        return embed_audio_file(self._embedder, path)


@dataclass
class ClassifyTask(Task):
    """``classify_file(path, top)`` with the shipped timbre CNN (loaded once per process)."""

    top: int
    _service: object = None
    _local = ("_service",)

    def __call__(self, path: Path):
        if self._service is None:
            from timbrelab.service import Service

            self._service = Service()
        return self._service.classify_file(path, top=self.top)


@dataclass
class ApplyTask(Task):
    """``apply_file(path, targets[path], plan, **options)``: one input through an effect plan into its output."""

    plan: object  # timbrelab.fx.EffectPlan
    targets: dict  # input path → output path
    options: dict  # apply_file's keyword options (match_loudness, tail_s, bit_depth, sample_rate, block_frames, progress)

    def __call__(self, path: Path) -> dict:
        from timbrelab.fx import apply_file

        return apply_file(path, self.targets[path], self.plan, **self.options)
