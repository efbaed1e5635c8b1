"""timbrelab studio: one local web page over the same Python API as the CLI (``timbrelab studio``).

``app.create_app`` builds the FastAPI application, ``app.serve`` runs it, ``store.FileStore`` keeps its
files (one temporary folder, opaque ids), ``uploads.read_form`` streams request bodies into it, and
``static/`` holds the page (plain HTML, CSS and JavaScript, nothing from the network). The HTTP API is
described at ``/docs`` of a running studio (from ``/openapi.json``) and in the README.
"""

DEFAULT_PORT = 8765
DEFAULT_MAX_UPLOAD_MB = 200.0
DEFAULT_KEEP_MINUTES = 60.0
