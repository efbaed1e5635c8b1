import hashlib
import os

import numpy as np
import pytest

os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


def sha256(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.fixture
def cli(capsys):
    """Run the CLI in-process; returns (exit_code, stdout, stderr)."""
    from timbrelab.cli import main

    def run(*args):
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def pink_wav(tmp_path):
    """A 3 s stereo pink-noise WAV (16-bit, 44.1 kHz)."""
    from timbrelab.audio import write_audio
    from timbrelab.dsp.signals import pink_noise

    p = tmp_path / "pink.wav"
    write_audio(p, pink_noise(3.0, 44100, channels=2, seed=3), 44100, bit_depth="16")
    return p


def _have_synth() -> bool:
    from timbrelab.errors import MissingComponentError

    try:
        from timbrelab.sounds.render import Renderer

        Renderer("TimGM6mb", 22050).close()
        return True
    except MissingComponentError:
        return False


HAVE_SYNTH = _have_synth()
needs_synth = pytest.mark.skipif(not HAVE_SYNTH, reason="FluidSynth or the TimGM6mb soundfont is not installed")
