"""The studio's web application: a thin shell over :class:`timbrelab.service.Service`.

``create_app(StudioSettings(...))`` builds the FastAPI application; ``serve(settings)`` runs it
(``timbrelab studio``) and ``StudioServer`` runs it in a background thread (tests). Every answer of
``/api/`` is JSON; a failure is ``{"error": "<the CLI's one line>"}`` with a 4xx status (5xx only for a
bug of ours). The page (``static/index.html``) uses nothing but this API.

Safety, as ``timbrelab studio --help`` documents it:

- requests whose ``Host`` is not the bound host (or, on a loopback bind, ``localhost`` / ``127.0.0.1`` /
  ``::1``, or a name given with ``--allowed-host``) are refused: DNS-rebinding defence;
- a body over ``max_upload_mb`` is answered 413 before it is stored (``Content-Length`` is checked
  first; a body without one is counted as it streams in);
- files are served only by the opaque ids of :class:`~timbrelab.studio.store.FileStore`, static files only
  from a fixed list made at start-up: no request path ever reaches the file system;
- every file lives in the store's one temporary folder, is deleted ``keep_minutes`` after its request
  and at shutdown; inputs are never modified (the bundled example is read in place);
- audio is processed by ``workers`` threads of the studio's own (other requests wait their turn), and
  files are streamed, so memory stays bounded under load;
- ``/api/search`` reads a folder of this computer named in the request (the studio's user is this
  computer's user): only on a studio bound to a loopback address, and it only reads. The ranked files
  are *copied* into the request's job folder (a FLAC preview for formats a browser does not play) and
  played from there by opaque ids, like every other file; the folder's own paths are never served.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from starlette.requests import Request  # at module level: the endpoints' annotations are resolved here

from timbrelab.errors import BadParameterError, TimbrelabError
from timbrelab.studio import DEFAULT_KEEP_MINUTES, DEFAULT_MAX_UPLOAD_MB, DEFAULT_PORT

#: what a browser's <audio> plays; other inputs/outputs get a FLAC preview for the players
BROWSER_PLAYABLE = {".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".mp4", ".aac", ".webm", ".weba"}
MEDIA_TYPES = {".wav": "audio/wav", ".flac": "audio/flac", ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".oga": "audio/ogg",
               ".opus": "audio/ogg", ".m4a": "audio/mp4", ".mp4": "audio/mp4", ".aac": "audio/aac", ".webm": "audio/webm",
               ".weba": "audio/webm", ".aif": "audio/aiff", ".aiff": "audio/aiff", ".aifc": "audio/aiff", ".json": "application/json",
               ".png": "image/png", ".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
               ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
TRUE = ("1", "true", "yes", "on")


@dataclass
class StudioSettings:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB
    keep_minutes: float = DEFAULT_KEEP_MINUTES
    workers: int = 2
    allowed_hosts: tuple = ()
    allow_remote: bool = False
    embedder: str | None = None  # the language–audio embedder's spec (None: the service's default, timbreclap)

    def check(self) -> "StudioSettings":
        if not (0 <= int(self.port) <= 65535):
            raise BadParameterError(f"--port {self.port} is out of range (0 … 65535; 0 = any free port)")
        if not (0 < float(self.max_upload_mb) <= 100_000):
            raise BadParameterError(f"--max-upload-mb must be > 0, got {self.max_upload_mb:g}")
        if not (0 < float(self.keep_minutes) <= 7 * 24 * 60):
            raise BadParameterError(f"--keep-minutes must be > 0 (at most a week), got {self.keep_minutes:g}")
        if not (1 <= int(self.workers) <= 64):
            raise BadParameterError(f"--workers must be 1 … 64, got {self.workers}")
        if not is_loopback(self.host) and not self.allow_remote:
            raise BadParameterError(f"--host {self.host} is not a loopback address: anyone who can reach it could use the studio; "
                                    "add --allow-remote if that is what you want")
        return self

    @property
    def limit_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    def allowed(self) -> set:
        names = {self.host.lower().strip("[]"), *(h.lower() for h in self.allowed_hosts)}
        if is_loopback(self.host):
            names |= set(LOOPBACK_NAMES)
        return names


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """The host part of a ``Host`` header (``[::1]:8765`` → ``::1``, ``a.b:80`` → ``a.b``)."""
    h = header.strip().lower()
    if h.startswith("["):
        return h[1 : h.find("]")] if "]" in h else h
    return h.rsplit(":", 1)[0] if h.count(":") == 1 else h


# ------------------------------------------------------------------------------- ASGI middleware


async def _send_json(send, status: int, body: dict) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": data})


class Guard:
    """Refuses a foreign ``Host`` (400) and a declared body over the limit (413) before anything is read."""

    def __init__(self, app, allowed: set, limit_bytes: int, limit_mb: float):
        self.app, self.allowed, self.limit, self.limit_mb = app, allowed, limit_bytes, limit_mb

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            host = host_name(headers.get(b"host", b"").decode("latin-1"))
            if host not in self.allowed:
                await _send_json(send, 400, {"error": f"request refused: Host '{host}' is not this studio's address (DNS-rebinding defence; "
                                                      "see timbrelab studio --allowed-host)"})
                return
            length = headers.get(b"content-length")
            if length is not None:
                try:
                    n = int(length)
                except ValueError:
                    await _send_json(send, 400, {"error": "bad Content-Length header"})
                    return
                if n > self.limit:
                    await _send_json(send, 413, {"error": too_large(self.limit_mb)})
                    return
        await self.app(scope, receive, send)


def too_large(limit_mb: float) -> str:
    return f"upload larger than the studio's {limit_mb:g} MB limit (timbrelab studio --max-upload-mb)"


# ------------------------------------------------------------------------------- the application


def static_files() -> dict[str, Path]:
    """The page's files, listed once: the only static paths the server answers."""
    folder = resources.files("timbrelab").joinpath("studio", "static")
    return {p.name: Path(str(p)) for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")}


def _slug(text: str, n: int = 40) -> str:
    s = re.sub(r"[^0-9A-Za-z]+", "-", text.strip().lower()).strip("-")
    return s[:n].strip("-") or "processed"


def _media_type(path: Path) -> str:
    return MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")


def _float(fields: dict, name: str, default: float) -> float:
    v = fields.get(name, "")
    if v is None or str(v).strip() == "":
        return default
    try:
        return float(v)
    except ValueError:
        raise BadParameterError(f"{name}: invalid number '{str(v)[:40]}'") from None


#: the Explore tab: the α slider's and the traversal's value slider's ranges (prior σ), the small rows of
#: spectrograms drawn beside the note, and the decimals of the log-mel numbers an answer carries
EXPLORE_ALPHA_RANGE, EXPLORE_VALUE_RANGE = (0.0, 1.0), (-3.0, 3.0)
EXPLORE_ALPHA_STRIP, EXPLORE_VALUE_STRIP = (0.0, 0.25, 0.5, 0.75, 1.0), (-3.0, -1.5, 0.0, 1.5, 3.0)
EXPLORE_DECIMALS = 2


def _json_text(body: dict, name: str, what: str) -> str:
    """A required text field of a JSON body (``what``: how the error names it)."""
    v = body.get(name)
    if not isinstance(v, str) or not v.strip():
        raise BadParameterError(f"give {what} (field '{name}')")
    return v.strip()


def _json_number(body: dict, name: str, lo: float, hi: float) -> float:
    """A required finite number within ``lo`` … ``hi`` (a JSON number, or text that reads as one)."""
    v = body.get(name)
    if v is None or (isinstance(v, str) and not v.strip()):
        raise BadParameterError(f"give {name} (a number from {lo:g} to {hi:g})")
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise BadParameterError(f"{name}: invalid number '{json.dumps(v)[:40]}'")
    try:
        x = float(v)
    except ValueError:
        raise BadParameterError(f"{name}: invalid number '{str(v)[:40]}'") from None
    if not (lo <= x <= hi):  # NaN too
        raise BadParameterError(f"{name} must be a number from {lo:g} to {hi:g}, got {str(v)[:40]}")
    return x


def _json_whole(body: dict, name: str) -> int:
    """A required whole number (a JSON integer, a float with no fraction, or digits as text)."""
    v = body.get(name)
    if v is None:
        raise BadParameterError(f"give {name} (a whole number)")
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise BadParameterError(f"{name}: invalid whole number '{json.dumps(v)[:40]}'")
    try:
        x = float(v)
    except ValueError:
        x = float("nan")
    if not (x == x and abs(x) < 1e9 and x == int(x)):
        raise BadParameterError(f"{name}: invalid whole number '{str(v)[:40]}'")
    return int(x)


def _json_method(body: dict) -> str | None:
    """The resynthesis method as given (None: the explorer's default); the explorer's own code checks it."""
    v = body.get("method")
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    if not isinstance(v, str):
        raise BadParameterError(f"method: invalid text '{json.dumps(v)[:40]}'")
    return v.strip()


def _logmel_numbers(logmel) -> list:
    """A log-mel ``(bands, frames)`` as rows of rounded numbers (band 0, the lowest, first)."""
    import numpy as np

    return np.round(np.asarray(logmel, np.float64), EXPLORE_DECIMALS).tolist()


def explore_ranges(explorer) -> list[dict]:
    """The explorer's classes with the pitches each is played in (the taxonomy's range within the explorer's)."""
    from timbrelab.explore.data import PITCH_HIGH, PITCH_LOW
    from timbrelab.sounds.taxonomy import instrument

    out = []
    for name in explorer.classes:
        try:
            i = instrument(name)
            lo, hi, family = max(i.low, PITCH_LOW), min(i.high, PITCH_HIGH), i.family
        except TimbrelabError:  # a class the taxonomy does not know: the explorer's whole range
            lo, hi, family = PITCH_LOW, PITCH_HIGH, ""
        out.append({"name": name, "family": family, "low": lo, "high": hi})
    return out


#: what the Separate tab's spectrograms show: the first seconds of a file, at most this many columns and rows
SPECTROGRAM_EXCERPT_S = 60.0
SPECTROGRAM_COLUMNS, SPECTROGRAM_ROWS, SPECTROGRAM_FLOOR_HZ, SPECTROGRAM_RANGE_DB = 720, 200, 30.0, 80.0


def _first_seconds(path: Path, seconds: float):
    """The first ``seconds`` of a file as a mono float array (streamed: a long file is never read whole)."""
    import numpy as np

    from timbrelab import audio as aio

    inf = aio.info(path)
    want, parts, got = int(seconds * inf.sample_rate), [], 0
    for b in aio.iter_blocks(path):
        parts.append(b[:, : want - got].mean(axis=0))
        got += parts[-1].shape[0]
        if got >= want:
            break
    return (np.concatenate(parts) if parts else np.zeros(0, np.float32)).astype(np.float32), inf.sample_rate


def spectrogram_db(path: Path, seconds: float = SPECTROGRAM_EXCERPT_S):
    """A small log-frequency spectrogram of a file's first ``seconds`` (its channels' mean): ``(db, freqs_hz,
    duration_s)``, ``db`` ``(rows, columns)`` in dB re. a full-scale sine, rows log-spaced from 30 Hz to the
    file's Nyquist frequency, columns the maximum over groups of STFT frames (at most ``SPECTROGRAM_COLUMNS``)."""
    import numpy as np
    import torch

    from timbrelab.features.stft import STFTConfig, stft

    x, sr = _first_seconds(path, seconds)
    n_fft = 2048 if sr > 32000 else 1024
    config = STFTConfig(n_fft=n_fft, hop=n_fft // 4)
    with torch.no_grad():
        mag = stft(torch.from_numpy(np.ascontiguousarray(x)), config).abs().numpy() / (config.window_tensor().sum().item() / 2)
    db = 20 * np.log10(np.maximum(mag, 1e-8))  # (bins, frames)
    freqs = np.geomspace(SPECTROGRAM_FLOOR_HZ, sr / 2, SPECTROGRAM_ROWS)
    pos = freqs / (sr / n_fft)  # fractional bin of each row
    lo = np.minimum(np.floor(pos).astype(int), db.shape[0] - 2)
    w = (pos - lo)[:, None]
    rows = db[lo] * (1 - w) + db[lo + 1] * w
    if rows.shape[1] > SPECTROGRAM_COLUMNS:
        edges = np.linspace(0, rows.shape[1], SPECTROGRAM_COLUMNS + 1).astype(int)[:-1]
        rows = np.maximum.reduceat(rows, edges, axis=1)
    return rows, freqs, len(x) / sr if sr else 0.0


def spectrogram_png(out: Path, db, freqs, duration_s: float, top_db: float, limit_hz: float | None = None) -> Path:
    """Draw :func:`spectrogram_db`'s picture to a PNG (matplotlib's object API: no pyplot state, safe in
    the studio's threads); ``top_db`` the colour scale's top (the mixture's, so pictures compare);
    ``limit_hz`` a dashed line (the separator's band limit). No title: the page captions it."""
    import numpy as np

    from timbrelab import plots

    fig = plots.figure(figsize=(6.4, 2.5), facecolor="#1c1f23")
    ax = fig.add_subplot()
    ax.set_facecolor("#1c1f23")
    n = len(freqs)
    ax.imshow(db, origin="lower", aspect="auto", cmap="magma", vmin=top_db - SPECTROGRAM_RANGE_DB, vmax=top_db,
              extent=(0, max(duration_s, 1e-3), 0, n), interpolation="nearest")

    def row(f: float) -> float:  # the picture's row of a frequency (the rows are log-spaced)
        return n * np.log(f / freqs[0]) / np.log(freqs[-1] / freqs[0])

    ticks = [f for f in (50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000) if freqs[0] <= f <= freqs[-1]]
    ax.set_yticks([row(f) for f in ticks], [f"{f // 1000} k" if f >= 1000 else str(f) for f in ticks])
    if limit_hz and limit_hz < freqs[-1]:
        ax.axhline(row(limit_hz), color="#9aa3ad", lw=0.9, ls="--")
        ax.text(0.005 * max(duration_s, 1e-3), row(limit_hz) + n * 0.015, f"model band limit {limit_hz / 1000:.1f} kHz",
                color="#e6e8eb", fontsize=7.5, va="bottom")
    ax.set_xlabel("seconds", color="#9aa3ad", fontsize=8.5)
    ax.set_ylabel("Hz", color="#9aa3ad", fontsize=8.5)
    ax.tick_params(colors="#9aa3ad", labelsize=7.5)
    for side in ax.spines.values():
        side.set_color("#343a41")
    return plots.save(fig, out, dpi=100, facecolor=fig.get_facecolor())


def _rms_db(path: Path) -> float:
    """The RMS level of a whole file in dB re. full scale, as ``timbrelab separate`` reports its outputs'."""
    import math

    import numpy as np

    from timbrelab import audio as aio

    energy, count = 0.0, 0
    for b in aio.iter_blocks(path):
        energy += float(np.sum(b.astype(np.float64) ** 2))
        count += b.size
    return round(10 * math.log10(max(energy / max(count, 1), 1e-20)), 2)


def create_app(settings: StudioSettings | None = None, service=None, store=None):
    from fastapi import FastAPI
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import FileResponse, JSONResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    import timbrelab
    from timbrelab import audio as aio
    from timbrelab.demo import example_path, separation_example_path
    from timbrelab.service import Service
    from timbrelab.studio.store import FileStore
    from timbrelab.studio.uploads import BadForm, UploadTooLarge, read_form, read_json

    settings = (settings or StudioSettings()).check()
    service = service or Service(embedder=settings.embedder)
    store = store or FileStore(keep_s=settings.keep_minutes * 60)
    statics = static_files()
    # audio is processed by `workers` threads of the studio's own (requests beyond them wait): a few threads
    # touch large buffers, so memory does not grow with the number of requests in flight
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="studio-work")

    async def sweeper():
        while True:
            await asyncio.sleep(60)
            store.sweep()

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app):
        task = asyncio.create_task(sweeper())
        try:
            yield
        finally:
            task.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
            store.close()
            service.close()

    app = FastAPI(title="timbrelab studio", version=timbrelab.__version__, docs_url=None, redoc_url=None, lifespan=lifespan,
                  description="The HTTP API of `timbrelab studio`: the page uses exactly these calls. Errors are "
                              "`{\"error\": \"one line\"}` with a 4xx status; files are fetched by the opaque URLs the answers give.")
    app.state.settings, app.state.store, app.state.service = settings, store, service
    app.add_middleware(Guard, allowed=settings.allowed(), limit_bytes=settings.limit_bytes, limit_mb=settings.max_upload_mb)

    async def in_pool(fn):
        return await asyncio.get_running_loop().run_in_executor(pool, fn)

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    @app.exception_handler(TimbrelabError)
    async def _timbrelab_error(request, exc):
        return error(400, str(exc))

    @app.exception_handler(UploadTooLarge)
    async def _too_large(request, exc):
        return JSONResponse({"error": too_large(settings.max_upload_mb)}, status_code=413, headers={"connection": "close"})

    @app.exception_handler(BadForm)
    async def _bad_form(request, exc):
        return error(400, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request, exc):
        return error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation(request, exc):
        e = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in e.get("loc", ()) if x not in ("query", "path", "body"))
        return error(400, f"{where}: {e.get('msg', 'invalid value')}" if where else str(e.get("msg", "invalid request")))

    @app.exception_handler(OSError)
    async def _os(request, exc):
        return error(500, f"the system refused: {exc.strerror or exc}")

    @app.exception_handler(Exception)
    async def _bug(request, exc):
        return error(500, f"internal error: {type(exc).__name__}: {exc}")

    # ---------------------------------------------------------------- page, docs, static files

    def static(name: str):
        path = statics.get(name)
        if path is None:
            return error(404, "no such file")
        return FileResponse(path, media_type=_media_type(path), headers={"cache-control": "no-cache"})

    @app.get("/", include_in_schema=False)
    async def page():
        return static("index.html")

    @app.get("/docs", include_in_schema=False)
    async def docs():
        return static("api.html")

    @app.get("/static/{name}", include_in_schema=False)
    async def static_file(name: str):
        return static(name)

    # ---------------------------------------------------------------- API

    @app.get("/api/info", summary="Version, limits, the bundled example and the amount ranges")
    async def info():
        from timbrelab.dsp.amount import MAX_EQ_AMOUNT
        from timbrelab.dsp.reverb import MAX_REVERB_AMOUNT

        return {"version": timbrelab.__version__, "example": {"name": example_path().name, "url": "/api/example"},
                "max_upload_mb": settings.max_upload_mb, "keep_minutes": settings.keep_minutes,
                "eq": {"amount_min": -MAX_EQ_AMOUNT, "amount_max": MAX_EQ_AMOUNT, "default": 1.0},
                "reverb": {"amount_min": 0.0, "amount_max": MAX_REVERB_AMOUNT, "default": 1.0},
                "tabs": ["apply", "words", "classify", "describe", "separate", "explore"], "folder_search": is_loopback(settings.host)}

    @app.get("/api/example", summary="The bundled example clip (CC0 electric guitar, FLAC)")
    async def example():
        p = example_path()
        return FileResponse(p, media_type=_media_type(p), filename=p.name)

    @app.get("/api/files/{file_id}", summary="A file the studio made, by the opaque id an answer gave")
    async def files(file_id: str, download: bool = False):
        f = store.get(file_id)
        if f is None:
            return error(404, "no such file (files are kept for a limited time; see /api/info keep_minutes)")
        return FileResponse(f.path, media_type=f.media_type, filename=f.name if download else None,
                            content_disposition_type="attachment" if download else "inline")

    def url(fid: str, download: bool = False) -> str:
        return f"/api/files/{fid}" + ("?download=1" if download else "")

    def clean(message: str, folder: Path) -> str:
        return message.replace(str(folder) + os.sep, "").replace(str(folder), "")

    async def form_and_input(request: Request, example: Path | None = None):
        """(job, folder, form, input path, its name, uploaded?): the upload or the bundled example (``example``: another one)."""
        job, folder = store.new_job()
        try:
            form = await read_form(request, folder, settings.limit_bytes)
            up = form.files.get("file")
            if up is not None:
                return job, folder, form, up.path, up.filename, True
            if str(form.fields.get("example", "")).lower() in TRUE:
                ex = example or example_path()
                return job, folder, form, ex, ex.name, False
            raise BadParameterError("give an audio file (form field 'file') or example=true for the bundled example")
        except BaseException:
            store.drop_job(job)
            raise

    async def work(fn, job, folder):
        try:
            return await in_pool(fn)
        except TimbrelabError as exc:
            store.drop_job(job)
            raise type(exc)(clean(str(exc), folder)) from None
        except BaseException:
            store.drop_job(job)
            raise

    def input_view(job, path: Path, name: str, uploaded: bool, inf) -> dict:
        if uploaded:
            if path.suffix.lower() in BROWSER_PLAYABLE:
                play = url(store.add(path, name, _media_type(path), job))
            else:
                play = url(store.add(*preview(path, job), job))
        else:
            play = "/api/example"
        return {"name": name, "url": play, "duration_s": round(inf.frames / inf.sample_rate, 3) if inf.sample_rate else 0.0,
                "sample_rate": inf.sample_rate, "channels": inf.channels}

    def preview(path: Path, job: str, tag: str = "preview") -> tuple[Path, str, str]:
        """A FLAC copy for the browser's player (``apply`` with every effect bypassed: a streamed conversion)."""
        from timbrelab.fx import EffectPlan

        out = path.with_name(f"{path.stem}.{tag}.flac")
        service.apply_file(path, out, EffectPlan(), progress=False)
        return out, out.name, "audio/flac"

    _APPLY_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object",
        "properties": {
            "file": {"type": "string", "format": "binary", "description": "the audio to process (any format timbrelab reads)"},
            "example": {"type": "boolean", "description": "true: use the bundled example instead of a file"},
            "description": {"type": "string", "description": "the words, e.g. \"warm, small room\" (as `timbrelab apply`)"},
            "eq_amount": {"type": "number", "default": 1.0, "description": "EQ amount, -2 … 2 (0 bypass, 1 crowd curve, -1 opposite)"},
            "reverb_amount": {"type": "number", "default": 1.0, "description": "reverb amount, 0 … 2"},
            "match_loudness": {"type": "boolean", "default": False, "description": "match the output's loudness to the input's"},
            "eq_word": {"type": "string", "description": "a word forced onto the EQ (as --eq WORD)"},
            "reverb_word": {"type": "string", "description": "a word forced onto the reverb (as --reverb WORD)"},
        }}}}}}

    @app.post("/api/apply", summary="Apply a description to an uploaded file (or the example)", openapi_extra=_APPLY_BODY,
              response_description="the report, the result's URLs (audio_url plays it, output.download_url downloads it), "
                                   "the settings JSON for `timbrelab apply --from-settings`, and the numbers of the plots")
    async def apply(request: Request):
        from timbrelab.fx import settings_record
        from timbrelab.service.views import eq_view, reverb_view, spectrum_view

        job, folder, form, src, name, uploaded = await form_and_input(request)
        f = form.fields
        description = f.get("description", "").strip() or None
        eq_amount, reverb_amount = _float(f, "eq_amount", 1.0), _float(f, "reverb_amount", 1.0)
        eq_word, reverb_word = f.get("eq_word", "").strip(), f.get("reverb_word", "").strip()
        match = str(f.get("match_loudness", "")).lower() in TRUE

        def run():
            plan = service.plan(description, eq_amount, reverb_amount, [eq_word] if eq_word else (), [reverb_word] if reverb_word else ())
            inf = aio.info(src)
            ext = src.suffix.lower()
            notes = []
            if ext not in aio.FORMATS:
                notes.append(f"timbrelab reads {ext} but cannot write it: the result is FLAC")
                ext = ".flac"
            label = description or eq_word or reverb_word
            out = folder / f"{Path(name).stem}.{_slug(label)}{ext}"
            if out == src:
                out = out.with_name(f"{out.stem}-out{ext}")
            report = service.apply_file(src, out, plan, match_loudness=match, progress=False)
            settings_path = folder / f"{Path(name).stem}.{_slug(label)}.settings.json"
            record = settings_record(plan, [{**report, "input": name, "output": out.name}])
            settings_path.write_text(json.dumps(record, indent=1), encoding="utf-8")
            view = input_view(job, src, name, uploaded, inf)
            out_id = store.add(out, out.name, _media_type(out), job)
            play = url(out_id) if ext in BROWSER_PLAYABLE else url(store.add(*preview(out, job), job))
            settings_id = store.add(settings_path, settings_path.name, "application/json", job)
            plots = {"eq": eq_view(plan.eq) if plan.eq is not None else None,
                     "reverb": reverb_view(plan.reverb) if plan.reverb is not None else None,
                     "spectrum": spectrum_view(src, out)}
            rep = {k: v for k, v in report.items() if k not in ("input", "output")}
            return {"audio_url": play, "input": view,
                    "output": {"name": out.name, "url": play, "download_url": url(out_id, True), "format": ext.lstrip(".")},
                    "settings_url": url(settings_id), "settings_download_url": url(settings_id, True),
                    "summary": plan.summary(), "notes": notes + list(plan.notes) + list(report.get("notes", [])),
                    "report": rep, "plots": plots}

        return await work(run, job, folder)

    async def file_answer(request: Request, default_top: str, top_error: str, answer):
        """An uploaded file (or the example) and a "top" → ``{"input": view, **answer(src, top, name)}`` (classify, describe)."""
        job, folder, form, src, name, uploaded = await form_and_input(request)
        top_s = str(form.fields.get("top", default_top)).strip() or default_top
        if not top_s.isdigit():
            store.drop_job(job)
            raise BadParameterError(top_error)

        def run():
            inf = aio.info(src)
            out = answer(src, int(top_s), name)
            return {"input": input_view(job, src, name, uploaded, inf), **out}

        return await work(run, job, folder)

    def upload_body(verb: str, file_note: str, top_default: int, top_desc: str) -> dict:
        """The OpenAPI body of a file-or-example form with a "top" (classify, describe)."""
        return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {"type": "object", "properties": {
            "file": {"type": "string", "format": "binary", "description": f"the audio to {verb}{file_note}"},
            "example": {"type": "boolean", "description": f"true: {verb} the bundled example"},
            "top": {"type": "integer", "default": top_default, "description": top_desc},
        }}}}}}

    _CLASSIFY_BODY = upload_body("classify", " (any length: streamed)", 5, "how many instruments to list (1 … 28)")

    @app.post("/api/classify", summary="Instrument probabilities of an uploaded file (or the example), with a timeline",
              openapi_extra=_CLASSIFY_BODY)
    async def classify(request: Request):
        return await file_answer(request, "5", "--top must be a whole number from 1 to 28", lambda src, top, name: service.classify_file(src, top).to_dict())

    # ---------------------------------------------------------------- describe & search (the language–audio embedder)

    @app.get("/api/embedder", summary="The language–audio embedder of describe and search (loads it): name, fingerprint, dimension")
    async def embedder():
        return await in_pool(service.embedder_info)

    _DESCRIBE_BODY = upload_body("describe", "", 8, "how many words to list (as `timbrelab describe --top`)")

    @app.post("/api/describe", summary="An uploaded file (or the example) in words: its instrument and closest timbre words",
              openapi_extra=_DESCRIBE_BODY)
    async def describe(request: Request):
        return await file_answer(request, "8", "--top must be a whole number of at least 1",
                                 lambda src, top, name: {**service.describe_file(src, top).to_dict(), "path": name})

    _SEARCH_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "the words to search for, e.g. \"warm mellow pad\""},
            "folder": {"type": "string", "description": "a folder on the studio's computer (searched with its sub-folders; only read)"},
            "top": {"type": "integer", "default": 10, "description": "how many files to list"},
            "rebuild": {"type": "boolean", "default": False, "description": "embed every file again instead of reusing the index"},
        }}}}}}

    @app.post("/api/search", summary="Rank the audio files of a folder on this computer by a text query (as `timbrelab search`)",
              openapi_extra=_SEARCH_BODY,
              response_description="what the index update did (embedded, reused, dropped, failed) and the ranking, each file "
                                   "with a URL that plays a copy of it")
    async def search(request: Request):
        import shutil

        from timbrelab.fx import EffectPlan
        from timbrelab.studio.uploads import safe_name

        if not is_loopback(settings.host):
            raise BadParameterError("searching folders of this computer is offered only by a studio bound to a loopback address "
                                    "(anyone who reaches this one could read them)")
        job, folder = store.new_job()
        try:
            form = await read_form(request, folder, settings.limit_bytes)
        except BaseException:
            store.drop_job(job)
            raise
        f = form.fields
        query, where = str(f.get("query", "")).strip(), str(f.get("folder", "")).strip()
        top_s = str(f.get("top", "10")).strip() or "10"
        rebuild = str(f.get("rebuild", "")).lower() in TRUE
        if not where:
            store.drop_job(job)
            raise BadParameterError("give a folder to search (form field 'folder')")
        if not top_s.isdigit():
            store.drop_job(job)
            raise BadParameterError("--top must be a whole number of at least 1")

        def run():
            r = service.search(query, where, top=int(top_s), rebuild=rebuild, progress=False)
            d = r.to_dict()
            results = []
            for i, (rel, score) in enumerate(r.results, 1):
                src = r.folder / rel
                row = {"rank": i, "path": rel, "name": Path(rel).name, "score": round(score, 4), "url": None}
                try:
                    if src.stat().st_size > settings.limit_bytes:
                        row["note"] = f"larger than the studio's {settings.max_upload_mb:g} MB limit: not copied for playing"
                    elif src.suffix.lower() in BROWSER_PLAYABLE:
                        copy = folder / f"{i:02d}-{safe_name(src.name)}"
                        shutil.copyfile(src, copy)
                        row["url"] = url(store.add(copy, src.name, _media_type(copy), job))
                    else:  # a FLAC preview, written in the job folder (never beside the user's file)
                        out = folder / f"{i:02d}-{safe_name(src.stem)}.preview.flac"
                        service.apply_file(src, out, EffectPlan(), progress=False)
                        row["url"] = url(store.add(out, out.name, "audio/flac", job))
                except (OSError, TimbrelabError) as exc:  # gone or unreadable since it was indexed: listed, not played
                    row["note"] = f"cannot be played: {exc.strerror if isinstance(exc, OSError) and exc.strerror else exc}"
                results.append(row)
            failed = [{"path": x.path, "reason": x.reason} for x in r.update.failed]
            return {"query": d["query"], "folder": d["folder"], "embedder": d["embedder"], "summary": r.update.line(),
                    **{k: d[k] for k in ("files", "embedded", "reused", "dropped", "notes")}, "failed": failed, "results": results}

        return await work(run, job, folder)

    # ---------------------------------------------------------------- separate (the text-queried separator)

    _SEPARATE_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object",
        "required": ["query"],
        "properties": {
            "file": {"type": "string", "format": "binary", "description": "the mix to separate (any format timbrelab reads; any length: streamed)"},
            "example": {"type": "boolean", "description": "true: separate the bundled example"},
            "query": {"type": "string", "description": "what to extract, in words: one description, e.g. \"the violin\", \"vocals\", "
                                                       "\"the brass\" (as `timbrelab separate MIX QUERY`)"},
        }}}}}}

    @app.post("/api/separate", summary="Extract what a description names from an uploaded mix (or the example): estimate and residual",
              openapi_extra=_SEPARATE_BODY,
              response_description="the estimate's and the residual's URLs (WAV; `download_url` downloads), their RMS levels, "
                                   "and the URLs of PNG spectrograms of the mixture and the estimate")
    async def separate(request: Request):
        from timbrelab.separate.model import check_queries
        from timbrelab.separate.stream import slug

        job, folder, form, src, name, uploaded = await form_and_input(request, separation_example_path())
        try:
            query = check_queries([str(form.fields.get("query", ""))])[0]
        except BaseException:
            store.drop_job(job)
            raise

        def run():
            inf = aio.info(src)
            stem = f"{Path(name).stem}.{slug(query)}"
            est, res = folder / f"{stem}.wav", folder / f"{stem}.residual.wav"
            report = service.separate_file(src, [query], est, res, progress=False)
            out = report["outputs"][0]
            model_band = report["model_sample_rate"] / 2
            note = (f"the estimate holds what the model hears below {model_band / 1000:.0f} kHz; the residual holds everything "
                    "else (estimate + residual = the mix)")
            notes = []
            if out["rms_db"] < -60:
                notes.append(f"the estimate is near silence ({out['rms_db']:.1f} dB RMS): is {query!r} in the mix?")
            mix_db, freqs, seconds = spectrogram_db(src)
            est_db, _, _ = spectrogram_db(est)
            top = float(mix_db.max(initial=-160.0))
            pictures = {}
            for key, db, title in (("mixture", mix_db, f"mixture: {name}"), ("estimate", est_db, f"estimate: \u201c{query}\u201d")):
                png = spectrogram_png(folder / f"{stem}.{key}.png", db, freqs, seconds, top, model_band)
                pictures[key] = {"url": url(store.add(png, png.name, "image/png", job)), "title": title}
            files = {}
            for key, path, rms in (("estimate", est, out["rms_db"]), ("residual", res, _rms_db(res))):
                fid = store.add(path, path.name, "audio/wav", job)
                files[key] = {"name": path.name, "url": url(fid), "download_url": url(fid, True), "rms_db": rms}
            files["estimate"]["peak"] = out["peak"]
            return {"query": query, "input": input_view(job, src, name, uploaded, inf), **files,
                    "model_sample_rate": report["model_sample_rate"], "model_band_hz": model_band,
                    "spectrograms": {**pictures, "excerpt_s": round(seconds, 3)}, "note": note, "notes": notes}

        return await work(run, job, folder)

    # ---------------------------------------------------------------- explore (the GMVAE timbre/pitch space)

    @app.get("/api/explore/info", summary="The explorer of the Explore tab (loads it): its instruments with their pitch ranges, "
                                          "the pitch range, the timbre latent's size, the resynthesis methods")
    async def explore_info():
        from timbrelab.explore.data import FEATURES, N_FRAMES, NOTE_S, PITCH_HIGH, PITCH_LOW
        from timbrelab.explore.play import DEFAULT_METHOD
        from timbrelab.explore.synth import METHODS

        def run():
            ex = service.explorer()
            return {"classes": explore_ranges(ex), "pitch_min": PITCH_LOW, "pitch_max": PITCH_HIGH, "latent_dim": ex.net.config.latent_dim,
                    "methods": list(METHODS), "default_method": DEFAULT_METHOD,
                    "alpha": {"min": EXPLORE_ALPHA_RANGE[0], "max": EXPLORE_ALPHA_RANGE[1], "strip": list(EXPLORE_ALPHA_STRIP)},
                    "value": {"min": EXPLORE_VALUE_RANGE[0], "max": EXPLORE_VALUE_RANGE[1], "strip": list(EXPLORE_VALUE_STRIP)},
                    "sample_rate": FEATURES.sample_rate, "note_s": NOTE_S, "bands": FEATURES.n_mels, "frames": N_FRAMES, "model": ex.cost()}

        return await in_pool(run)

    def explore_note(ns, value_key: str, strip_values, strip_logmels, t0: float) -> dict:
        """A one-note set as an answer: the note's WAV in a job of its own (played by URL), its log-mel's numbers
        and, if asked, the log-mels of the row of ``strip_values``."""
        import numpy as np

        from timbrelab.explore.data import FEATURES

        note = ns.notes[0]
        job, folder = store.new_job()
        try:
            path = folder / f"{_slug(ns.title, 60)}_{re.sub(r'[^0-9A-Za-z.+-]+', '', note.label)}.wav"
            aio.write_audio(path, note.audio, note.sample_rate)
            fid = store.add(path, path.name, "audio/wav", job)
        except BaseException:
            store.drop_job(job)
            raise
        lm = np.asarray(note.logmel)
        head = {k: v for k, v in ns.to_dict().items() if k != "notes"}
        answer = {**head, value_key: float(note.value), "label": note.label,
                  "audio": {"name": path.name, "url": url(fid), "download_url": url(fid, True), "sample_rate": note.sample_rate,
                            "duration_s": round(note.audio.shape[-1] / note.sample_rate, 4), "peak": round(float(np.abs(note.audio).max()), 4)},
                  "logmel": {"bands": int(lm.shape[0]), "frames": int(lm.shape[1]), "hop_s": round(FEATURES.hop / FEATURES.sample_rate, 6),
                             "min": round(float(lm.min()), EXPLORE_DECIMALS), "max": round(float(lm.max()), EXPLORE_DECIMALS),
                             "values": _logmel_numbers(lm)}}
        if strip_logmels is not None:
            answer["strip"] = [{value_key: float(v), "logmel": _logmel_numbers(x)} for v, x in zip(strip_values, strip_logmels)]
        answer["elapsed_s"] = round(time.perf_counter() - t0, 3)
        return answer

    _LOGMEL_ANSWER = ("the note's audio (`audio.url` plays a half-second WAV, `download_url` downloads it) and its log-mel spectrogram as "
                      "numbers (`logmel.values`: 128 rows, lowest mel band first, of 44 frames; natural log), and with `strip` the "
                      "log-mels of the row")

    def explore_body(properties: dict, required: list) -> dict:
        from timbrelab.explore.data import PITCH_HIGH, PITCH_LOW
        from timbrelab.explore.play import DEFAULT_METHOD
        from timbrelab.explore.synth import METHODS

        common = {
            "pitch": {"type": "integer", "minimum": PITCH_LOW, "maximum": PITCH_HIGH, "description": "MIDI pitch (60 = middle C)"},
            "method": {"type": "string", "enum": list(METHODS), "default": DEFAULT_METHOD,
                       "description": "spectrogram → audio: griffin-lim (all of the sound from the spectrogram) or harmonic "
                                      "(additive, at the pitch)"},
        }
        strip = properties.pop("strip")
        props = {**properties, **common, "strip": strip}
        return {"requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": required, "properties": props}}}}}

    _INTERPOLATE_BODY = explore_body({
        "source": {"type": "string", "description": "the instrument to start from (a class of /api/explore/info, or an alias: \"sax\")"},
        "target": {"type": "string", "description": "the instrument to move towards"},
        "alpha": {"type": "number", "minimum": EXPLORE_ALPHA_RANGE[0], "maximum": EXPLORE_ALPHA_RANGE[1],
                  "description": "how far: the timbre latent is μ_source + α (μ_target − μ_source); 0 the source, 1 the target"},
        "strip": {"type": "boolean", "default": False, "description": "also the log-mels (no audio) of α = 0, 0.25, 0.5, 0.75, 1"},
    }, ["source", "target", "pitch", "alpha"])

    @app.post("/api/explore/interpolate", summary="One note between two instruments: the timbre a fraction α of the way, the pitch kept "
                                                  "(as `timbrelab explore interpolate`)",
              openapi_extra=_INTERPOLATE_BODY, response_description=_LOGMEL_ANSWER)
    async def explore_interpolate(request: Request):
        body = await read_json(request)
        source, target = _json_text(body, "source", "the source instrument"), _json_text(body, "target", "the target instrument")
        pitch, alpha = _json_whole(body, "pitch"), _json_number(body, "alpha", *EXPLORE_ALPHA_RANGE)
        method, strip = _json_method(body), str(body.get("strip", "")).lower() in TRUE

        def run():
            t0 = time.perf_counter()
            ns = service.explore_interpolate(source, target, [alpha], pitch, method=method)
            lms = None
            if strip:
                ex = service.explorer()
                lms = ex.decode(*ex.interpolation_latents(source, target, EXPLORE_ALPHA_STRIP, pitch=pitch))
            return explore_note(ns, "alpha", EXPLORE_ALPHA_STRIP, lms, t0)

        return await in_pool(run)

    _TRAVERSE_BODY = explore_body({
        "instrument": {"type": "string", "description": "the instrument whose timbre is moved (a class of /api/explore/info, or an alias)"},
        "dim": {"type": "integer", "minimum": 0, "description": "the timbre dimension, 0 … latent_dim − 1 (/api/explore/info)"},
        "value": {"type": "number", "minimum": EXPLORE_VALUE_RANGE[0], "maximum": EXPLORE_VALUE_RANGE[1],
                  "description": "the dimension's offset from the instrument's mean, in its prior's standard deviations"},
        "strip": {"type": "boolean", "default": False, "description": "also the log-mels (no audio) of value = −3, −1.5, 0, 1.5, 3"},
    }, ["instrument", "pitch", "dim", "value"])

    @app.post("/api/explore/traverse", summary="One note of an instrument with one timbre dimension moved (as `timbrelab explore traverse`)",
              openapi_extra=_TRAVERSE_BODY, response_description=_LOGMEL_ANSWER)
    async def explore_traverse(request: Request):
        body = await read_json(request)
        instrument = _json_text(body, "instrument", "the instrument")
        pitch, dim = _json_whole(body, "pitch"), _json_whole(body, "dim")
        value = _json_number(body, "value", *EXPLORE_VALUE_RANGE)
        method, strip = _json_method(body), str(body.get("strip", "")).lower() in TRUE

        def run():
            t0 = time.perf_counter()
            ns = service.explore_traverse(instrument, pitch, dim, [value], method=method)
            lms = None
            if strip:
                ex = service.explorer()
                lms = ex.decode(*ex.traversal_latents(instrument, pitch, dim, EXPLORE_VALUE_STRIP))
            return explore_note(ns, "value", EXPLORE_VALUE_STRIP, lms, t0)

        return await in_pool(run)

    @app.get("/api/words", summary="The crowd-map vocabulary (as `timbrelab words --json`)")
    async def words(effect: str = "all", lang: str = "", search: str = ""):
        rows = service.words(effect, lang or None, search or None)
        return {"count": len(rows), "words": rows}

    @app.get("/api/words/{word}", summary="What one word plays: its EQ curve or its reverb")
    async def word(word: str, effect: str = "eq"):
        def run():
            return service.word_view(word, effect)

        return await in_pool(run)

    return app


# ------------------------------------------------------------------------------- running it


def _bind(settings: StudioSettings) -> socket.socket:
    family = socket.AF_INET6 if ":" in settings.host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host.strip("[]"), int(settings.port)))
    except OSError as exc:
        sock.close()
        raise BadParameterError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}"
                                + (" (another program uses the port: try --port 0 for any free one)" if exc.errno in (98, 48) else "")) from None
    sock.listen(128)
    return sock


def _url(settings: StudioSettings, sock: socket.socket) -> str:
    host = settings.host.strip("[]")
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{sock.getsockname()[1]}"


def _server(app):
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=5)
    return uvicorn.Server(config)


def serve(settings: StudioSettings, open_browser: bool = False, on_ready=None) -> None:
    """Run the studio until Ctrl+C / SIGTERM (then its temporary folder is deleted)."""
    import atexit

    settings.check()
    sock = _bind(settings)
    app = create_app(settings)
    atexit.register(app.state.store.close)
    url = _url(settings, sock)
    server = _server(app)

    def ready():
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            if on_ready is not None:
                on_ready(url)
            if open_browser:
                import webbrowser

                webbrowser.open(url)

    threading.Thread(target=ready, daemon=True).start()
    try:
        server.run(sockets=[sock])
    finally:
        app.state.store.close()
        sock.close()


@dataclass
class StudioServer:
    """The studio in a background thread, for tests: ``with StudioServer(port=0) as s: s.url``."""

    settings: StudioSettings | None = None
    port: int = 0
    service: object = None
    url: str = ""
    app: object = None
    _thread: threading.Thread | None = field(default=None, repr=False)

    def __enter__(self) -> "StudioServer":
        settings = self.settings or StudioSettings(port=self.port)
        self._sock = _bind(settings.check())
        self.app = create_app(settings, service=self.service)
        self.url = _url(settings, self._sock)
        self._server = _server(self.app)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True)
        self._thread.start()
        t0 = time.monotonic()
        while not self._server.started:
            if time.monotonic() - t0 > 30 or not self._thread.is_alive():
                raise RuntimeError("the studio server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(15)
        self._sock.close()
        self.app.state.store.close()
