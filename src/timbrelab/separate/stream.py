"""Separation of audio of any length: chunks with context, constant memory, no seams.

The model's output for a frame depends only on the frames within its receptive field
(``SeparatorConfig.receptive_field_frames``, about 1.5 s). :func:`chunk_estimates` therefore cuts
the (model-rate) audio into chunks of ``chunk_s`` seconds, gives each ``context`` samples of the
neighbouring audio on both sides (zeros beyond the ends of the file), separates the extended chunk
and keeps its middle. The context covers half the receptive field plus an STFT frame on each side,
and chunks start on the STFT hop grid, so every kept sample is exactly what one pass over the whole
(zero-extended) signal gives: the result does not depend on the chunk length (tested), and there is
nothing to cross-fade. ``Separator.separate`` (whole arrays) and :func:`separate_file` (files) both
go through here, so they agree.

:func:`separate_file` streams a file: decode blocks → resample to the model's rate (soxr stream) →
chunk estimates on the down-mix's mask, applied to every channel → resample back to the file's rate
→ one output file per query, written atomically. ``residual_path`` receives the mixture minus every
estimate (so estimates + residual = the input, sample for sample, up to the output format's
precision). Content above the model's Nyquist frequency (11,025 Hz) is never in an estimate: it stays
in the residual.
"""

from __future__ import annotations

import math
import re
from collections import deque
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from timbrelab.errors import BadParameterError

DEFAULT_CHUNK_S = 20.0


def context_samples(config) -> int:
    """Samples of context each chunk needs on each side for exact results (a multiple of the hop)."""
    frames = config.receptive_field_frames // 2 + 2 * math.ceil(config.n_fft / config.hop) + 1
    return frames * config.hop


def chunk_samples(config, chunk_s: float) -> int:
    if not (0.5 <= float(chunk_s) <= 600):
        raise BadParameterError(f"separate: chunks last 0.5 … 600 s, got {chunk_s}")
    return max(1, int(round(chunk_s * config.sample_rate / config.hop))) * config.hop


def chunk_estimates(model, blocks, queries, chunk_s: float = DEFAULT_CHUNK_S):
    """Model-rate audio blocks ``(channels, n)`` → estimates ``(n_queries, channels, m)`` in order; the
    outputs together have exactly as many samples as the input."""
    c = model.net.config
    P, C = context_samples(c), chunk_samples(c, chunk_s)
    buf: np.ndarray | None = None  # samples from absolute position start - P

    def run(segment: np.ndarray, keep: int) -> np.ndarray:
        masks = model.masks(segment.mean(axis=0), queries)
        est = model.apply_masks(segment, masks)
        return est[:, :, P : P + keep]

    for block in blocks:
        block = np.asarray(block, np.float32)
        buf = np.concatenate([np.zeros((block.shape[0], P), np.float32), block], axis=1) if buf is None else np.concatenate([buf, block], axis=1)
        while buf.shape[1] >= P + C + P:
            yield run(buf[:, : P + C + P], C)
            buf = buf[:, C:]
    if buf is None:
        return
    rest = buf.shape[1] - P
    if rest > 0:
        seg = np.concatenate([buf, np.zeros((buf.shape[0], P), np.float32)], axis=1)
        yield run(seg, rest)


def separate_array(model, audio: np.ndarray, queries, chunk_s: float = DEFAULT_CHUNK_S) -> np.ndarray:
    """Model-rate audio ``(channels, samples)`` → ``(n_queries, channels, samples)`` (chunked: see the module)."""
    parts = list(chunk_estimates(model, [audio], queries, chunk_s))
    return np.concatenate(parts, axis=2)


def slug(query: str) -> str:
    """A file-name form of a query ("the violin" → "the-violin")."""
    s = re.sub(r"[^a-z0-9]+", "-", query.lower()).strip("-")
    return s[:60] or "query"


def output_paths(in_path, queries, output) -> list[Path]:
    """One output per query: ``output`` is a file for one query; for several, a folder (or a name with
    ``{query}`` in it) that receives one file per query."""
    in_path = Path(in_path)
    out = str(output)
    if "{query}" in out:
        paths = [Path(out.replace("{query}", slug(q))) for q in queries]
    elif len(queries) == 1 and not out.endswith(("/", "\\")) and not Path(out).is_dir():
        paths = [Path(out)]
    else:
        folder = Path(out)
        paths = [folder / f"{in_path.stem}.{slug(q)}.wav" for q in queries]
    if len(set(paths)) != len(paths):
        raise BadParameterError("separate: two queries would write the same file; give distinct descriptions")
    return paths


def separate_file(model, in_path, queries, output, residual_path=None, chunk_s: float = DEFAULT_CHUNK_S, bit_depth: str | None = None,
                  progress: bool | None = None) -> dict:
    """Separate every query from ``in_path`` into files (see :func:`output_paths`); returns a report."""
    from tqdm import tqdm

    from timbrelab import audio as aio
    from timbrelab.errors import AudioFileError
    from timbrelab.fx import same_file
    from timbrelab.separate.model import check_queries

    queries = check_queries(queries)
    in_path = Path(in_path)
    outs = output_paths(in_path, queries, output)
    if len(outs) > 1 and "{query}" not in str(output):
        Path(output).mkdir(parents=True, exist_ok=True)
    all_outs = outs + ([Path(residual_path)] if residual_path else [])
    for p in all_outs:
        aio.container_for(p)
        if p.exists() and same_file(in_path, p):
            raise BadParameterError(f"the output {p.name} is the input file: choose another output (inputs are never overwritten)")
        parent = p.parent if str(p.parent) else Path(".")
        if not parent.is_dir():
            raise AudioFileError(f"{p}: the folder {parent} does not exist")
    if len({str(p.resolve()) for p in all_outs}) != len(all_outs):
        raise BadParameterError("separate: the estimate and residual files must differ")
    info = aio.info(in_path)
    sr, ch, msr = info.sample_rate, info.channels, model.sample_rate
    subtypes = [aio.choose_subtype(p, bit_depth, info.subtype) for p in all_outs]
    bar = tqdm(total=info.frames or None, unit="frame", unit_scale=True, desc=in_path.name, disable=(progress is False) or None, leave=False)
    originals: deque = deque()  # input-rate blocks not yet matched by estimates (for the residual)
    held = [0]
    peaks = np.zeros(len(queries))
    energy = np.zeros(len(queries) + 1)

    def decoded():
        for b in aio.iter_blocks(in_path):
            if residual_path:
                originals.append(b)
                held[0] += b.shape[1]
            bar.update(b.shape[1])
            yield b

    def to_model_rate(blocks):
        if sr == msr:
            yield from blocks
            return
        rs = aio.StreamResampler(sr, msr, ch)
        for b in blocks:
            yield rs.process(b)
        yield rs.flush()

    def take_original(n: int) -> np.ndarray:
        parts, need = [], n
        while need > 0 and originals:
            b = originals.popleft()
            if b.shape[1] > need:
                originals.appendleft(b[:, need:])
                b = b[:, :need]
            parts.append(b)
            need -= b.shape[1]
        held[0] -= n - need
        out = np.concatenate(parts, axis=1) if parts else np.zeros((ch, 0), np.float32)
        return np.pad(out, ((0, 0), (0, n - out.shape[1]))) if out.shape[1] < n else out

    written = 0
    with ExitStack() as stack:
        writers = [stack.enter_context(aio.AtomicAudioWriter(p, sr, ch, st)) for p, st in zip(all_outs, subtypes)]
        back = [aio.StreamResampler(msr, sr, ch) for _ in queries] if sr != msr else None
        pending = [np.zeros((ch, 0), np.float32) for _ in queries]

        def emit(parts: list[np.ndarray], final: bool = False):
            nonlocal written
            for k, p in enumerate(parts):
                pending[k] = np.concatenate([pending[k], p], axis=1)
            n = min(p.shape[1] for p in pending)
            if final and info.frames:
                n = min(n, max(0, info.frames - written))  # resampling round trips may add a sample or two
            if n <= 0:
                return
            ests = [p[:, :n] for p in pending]
            for k in range(len(pending)):
                pending[k] = pending[k][:, n:]
            for k, e in enumerate(ests):
                writers[k].write(e)
                peaks[k] = max(peaks[k], float(np.abs(e).max(initial=0.0)))
                energy[k] += float(np.sum(e.astype(np.float64) ** 2))
            if residual_path:
                res = take_original(n) - np.sum(ests, axis=0)
                writers[-1].write(res.astype(np.float32))
                energy[-1] += float(np.sum(res.astype(np.float64) ** 2))
            written += n

        try:
            for est in chunk_estimates(model, to_model_rate(decoded()), queries, chunk_s):
                emit([est[k] if back is None else back[k].process(est[k]) for k in range(len(queries))])
            if back is not None:
                emit([b.flush() for b in back], final=True)
            if info.frames and written < info.frames:  # a round trip one sample short: pad with silence
                emit([np.zeros((ch, info.frames - written), np.float32) for _ in queries], final=True)
        finally:
            bar.close()
    total = max(written, 1)
    return {"input": str(in_path), "sample_rate": sr, "channels": ch, "frames": written, "model_sample_rate": msr,
            "outputs": [{"query": q, "path": str(p), "peak": round(float(peaks[k]), 6),
                         "rms_db": round(10 * math.log10(max(energy[k] / (total * ch), 1e-20)), 2)} for k, (q, p) in enumerate(zip(queries, outs))],
            "residual": str(residual_path) if residual_path else None}
