"""One exception family. Messages are written for musicians: what went wrong and what to do."""


class TimbrelabError(Exception):
    """Base class: the CLI prints its message on one line and exits non-zero."""

    exit_code = 2


class AudioFileError(TimbrelabError):
    """A file cannot be read or written as audio (corrupt, empty, unsupported, bad samples)."""


class BadParameterError(TimbrelabError):
    """A setting is out of its sensible range (amount 50, negative sample rate ...)."""


class UnknownWordError(TimbrelabError):
    """A descriptor is in no map and no mapped word is close enough to stand in for it."""


class MissingComponentError(TimbrelabError):
    """An optional component (extra, system package, trained weights) is not installed."""
