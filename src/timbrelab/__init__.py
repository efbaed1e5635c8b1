"""timbrelab: language-driven musical timbre.

Audio in memory is a float32 numpy array shaped (channels, samples) with an explicit sample rate.
"""

from timbrelab.errors import (
    AudioFileError,
    BadParameterError,
    MissingComponentError,
    TimbrelabError,
    UnknownWordError,
)

__version__ = "0.1.0"

__all__ = [
    "AudioFileError",
    "BadParameterError",
    "MissingComponentError",
    "TimbrelabError",
    "UnknownWordError",
    "apply",
    "classify",
    "classify_file",
    "GraphicEQ",
    "Reverb",
    "read_audio",
    "write_audio",
]


def __getattr__(name):  # lazy: keep `import timbrelab` cheap
    if name == "apply":
        from timbrelab.fx import apply

        return apply
    if name in ("classify", "classify_file"):
        from timbrelab.timbre_cnn import classify as c

        return getattr(c, name)
    if name in ("GraphicEQ",):
        from timbrelab.dsp.eq import GraphicEQ

        return GraphicEQ
    if name in ("Reverb",):
        from timbrelab.dsp.reverb import Reverb

        return Reverb
    if name in ("read_audio", "write_audio"):
        from timbrelab import audio

        return getattr(audio, name)
    raise AttributeError(f"module 'timbrelab' has no attribute {name!r}")
