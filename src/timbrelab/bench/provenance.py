"""Moved: provenance is shared ground now (benchmark reports and training runs both record it).
Import from :mod:`timbrelab.provenance`; this name stays for the bench modules' imports."""

from timbrelab.provenance import command_line, git_state, markdown_footer, memory_gb, package_versions, provenance  # noqa: F401
