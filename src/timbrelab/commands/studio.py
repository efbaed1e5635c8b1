"""`timbrelab studio`: the local web page over everything timbrelab does (see timbrelab.studio)."""

from __future__ import annotations

import sys

EXAMPLES = """\
examples:
  timbrelab studio                          # http://127.0.0.1:8765, opens the browser
  timbrelab studio --port 0 --no-browser    # any free port, printed
  timbrelab studio --max-upload-mb 50 --keep-minutes 10
  timbrelab studio --host 0.0.0.0 --allow-remote --allowed-host studio.lan   # on a trusted network only
"""


def register(sub) -> None:
    from timbrelab.studio import DEFAULT_KEEP_MINUTES, DEFAULT_MAX_UPLOAD_MB, DEFAULT_PORT

    p = sub.add_parser(
        "studio",
        help="the local web studio: apply, words and classify in the browser",
        description=(
            "Serve timbrelab's web page on this computer (127.0.0.1 by default) and open it in the browser when run "
            "from a terminal. The page uses the HTTP API described at /docs (JSON under /api/). Uploads over "
            "--max-upload-mb are refused (413); requests naming another host are refused (DNS-rebinding defence); "
            "every file the studio makes lives in one temporary folder, is deleted --keep-minutes after its request "
            "and when the studio stops (Ctrl+C or SIGTERM). Nothing is fetched from the network."
        ),
        epilog=EXAMPLES,
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; another needs --allow-remote)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 = any free port)")
    p.add_argument("--no-browser", action="store_true", help="do not open the browser")
    p.add_argument("--max-upload-mb", type=float, default=DEFAULT_MAX_UPLOAD_MB, help=f"largest upload in MB (default {DEFAULT_MAX_UPLOAD_MB:g})")
    p.add_argument("--keep-minutes", type=float, default=DEFAULT_KEEP_MINUTES,
                   help=f"minutes the studio keeps a request's files (default {DEFAULT_KEEP_MINUTES:g}; all are deleted at exit)")
    p.add_argument("--workers", type=int, default=2, help="requests processed at the same time; the others wait (default 2)")
    p.add_argument("--allow-remote", action="store_true", help="allow a --host that is not a loopback address (prints a warning)")
    p.add_argument("--allowed-host", action="append", default=[], metavar="NAME", help="another Host name to accept (repeatable)")
    p.add_argument("--embedder", default=None, metavar="SPEC",
                   help="the language-audio embedder of the Describe & search tab (default timbreclap; an entry-point name or package.module:factory)")
    p.set_defaults(func=run)


def run(args) -> int:
    from timbrelab.studio.app import StudioSettings, is_loopback, serve

    settings = StudioSettings(args.host, args.port, args.max_upload_mb, args.keep_minutes, args.workers,
                              tuple(args.allowed_host), args.allow_remote, args.embedder).check()
    if not is_loopback(settings.host):
        print(f"timbrelab studio: warning: listening on {settings.host}: anyone who can reach this address can upload "
              "and process files (there is no login)", file=sys.stderr)

    def ready(url: str) -> None:
        print(f"timbrelab studio: serving {url}  (API: {url}/docs; Ctrl+C to stop)", flush=True)

    serve(settings, open_browser=not args.no_browser and sys.stdout.isatty(), on_ready=ready)
    print("timbrelab studio: stopped; temporary files deleted")
    return 0
