"""Request bodies read as they arrive: form fields in memory, uploaded files straight into a job folder.

``await read_form(request, folder, limit_bytes)`` answers ``Form(fields, files)``. A body larger than
``limit_bytes`` raises :class:`UploadTooLarge` as soon as the limit is passed (the server answers 413);
nothing is spooled anywhere else (no framework temporary files). An uploaded file is written under
``folder`` with its own name made safe (:func:`safe_name`: the last path component, no control
characters, no leading dots, at most 100 characters), so error messages name the user's file.

``await read_json(request)`` answers a small JSON object (the Explore tab's requests): at most
``MAX_JSON_BYTES``; anything else (not JSON, not an object, too long) is a :class:`BadForm`.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

MAX_FIELD_BYTES = 64 * 1024
MAX_PARTS = 32
MAX_JSON_BYTES = 16 * 1024


class UploadTooLarge(Exception):
    pass


class BadForm(Exception):
    pass


@dataclass
class Upload:
    path: Path
    filename: str  # as the client named it, made safe
    size: int


@dataclass
class Form:
    fields: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)


def safe_name(name: str | None, default: str = "upload") -> str:
    name = (name or "").replace("\\", "/").split("/")[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip().lstrip(".")
    if not name:
        return default
    if len(name) > 100:
        suffix = Path(name).suffix[:16]
        name = name[: 100 - len(suffix)] + suffix
    return name


async def read_form(request, folder: Path, limit_bytes: int) -> Form:
    from python_multipart.multipart import MultipartParser, parse_options_header

    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    form = Form()
    received = 0

    async def chunks():
        nonlocal received
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit_bytes:
                raise UploadTooLarge()
            yield chunk

    if ctype == b"application/x-www-form-urlencoded":
        body = b""
        async for c in chunks():
            body += c
            if len(body) > MAX_FIELD_BYTES * 4:
                raise BadForm("form too large")
        form.fields = {k: v[-1] for k, v in urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}
        return form
    if ctype != b"multipart/form-data" or b"boundary" not in params:
        if ctype in (b"", None) and not request.headers.get("content-length", "0").strip("0"):
            return form  # no body at all
        raise BadForm("send the request as multipart/form-data (a form with the fields described at /docs)")

    state = {"headers": {}, "field": b"", "value": b"", "name": None, "file": None, "fh": None, "buf": b"", "parts": 0}

    def on_part_begin():
        state.update(headers={}, name=None, file=None, fh=None, buf=b"")
        state["parts"] += 1
        if state["parts"] > MAX_PARTS:
            raise BadForm(f"too many form fields (at most {MAX_PARTS})")

    def on_header_field(data, start, end):
        state["field"] += data[start:end]

    def on_header_value(data, start, end):
        state["value"] += data[start:end]

    def on_header_end():
        state["headers"][state["field"].decode("latin-1").lower()] = state["value"]
        state["field"], state["value"] = b"", b""

    def on_headers_finished():
        _, opts = parse_options_header(state["headers"].get("content-disposition", b""))
        state["name"] = opts.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in opts:
            raw = opts[b"filename"].decode("utf-8", "replace")
            if raw:
                name = safe_name(raw)
                path = folder / name
                k = 1
                while path.exists():
                    path = folder / f"{Path(name).stem}-{k}{Path(name).suffix}"
                    k += 1
                state["file"] = Upload(path, name, 0)
                state["fh"] = open(path, "wb")

    def on_part_data(data, start, end):
        if state["fh"] is not None:
            state["fh"].write(data[start:end])
            state["file"].size += end - start
        elif state["file"] is None and b"filename" not in state["headers"].get("content-disposition", b""):
            state["buf"] += data[start:end]
            if len(state["buf"]) > MAX_FIELD_BYTES:
                raise BadForm(f"form field '{state['name']}' is too long (at most {MAX_FIELD_BYTES // 1024} kB)")

    def on_part_end():
        if state["fh"] is not None:
            state["fh"].close()
            form.files[state["name"]] = state["file"]
        elif state["name"] is not None and b"filename" not in state["headers"].get("content-disposition", b""):
            form.fields[state["name"]] = state["buf"].decode("utf-8", "replace")
        state["fh"] = None

    parser = MultipartParser(params[b"boundary"], {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_headers_finished": on_headers_finished, "on_part_data": on_part_data,
        "on_part_end": on_part_end,
    })
    try:
        async for chunk in chunks():
            parser.write(chunk)
        parser.finalize()
    except (UploadTooLarge, BadForm):
        raise
    except Exception as exc:  # a malformed body
        raise BadForm(f"malformed multipart body ({type(exc).__name__})") from None
    finally:
        if state["fh"] is not None:
            state["fh"].close()
    return form


async def read_json(request) -> dict:
    """The body as a JSON object (``{"name": value, …}``), read up to ``MAX_JSON_BYTES``."""
    import json

    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise BadForm("send the request as application/json (an object with the fields described at /docs)")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_JSON_BYTES:
            raise BadForm(f"the JSON body is too long (at most {MAX_JSON_BYTES // 1024} kB)")
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=lambda name: name)  # NaN, Infinity: kept as text, refused as numbers
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadForm(f"the body is not valid JSON ({str(exc).splitlines()[0][:80]})") from None
    if not isinstance(data, dict):
        raise BadForm("the JSON body must be an object: {\"field\": value, …}")
    return data
