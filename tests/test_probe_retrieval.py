"""timbrelab.probe.retrieval: average precision, and retrieval on a real set with a known-answer toy."""

import numpy as np
import pytest

from timbrelab.probe.retrieval import average_precision, retrieval


def test_average_precision():
    assert average_precision([0.9, 0.8, 0.1], [True, True, False]) == 1.0
    assert average_precision([0.1, 0.8, 0.9], [True, False, False]) == pytest.approx(1 / 3)
    assert average_precision([0.9, 0.5, 0.4, 0.1], [True, False, True, False]) == pytest.approx((1 + 2 / 3) / 2)
    assert average_precision([1.0, 2.0], [False, False]) == 0.0


def _key(audio) -> str:
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(audio).tobytes()).hexdigest()


class _Oracle:
    """Knows each Medley clip's class from its file (a lookup, not hearing): retrieval must be perfect."""

    name = "oracle"

    def __init__(self):
        from timbrelab.probe.reference import prompt_for
        from timbrelab.sounds.recordings import medley, set_classes

        recs = medley()
        self.classes = set_classes(recs)
        self.prompts = [prompt_for(c) for c in self.classes]
        from timbrelab.audio import read_audio

        self.by_content = {_key(read_audio(r.path)[0]): self.classes.index(r.instrument) for r in recs}

    def embed_audio(self, audio, sample_rate):
        v = np.zeros(len(self.classes))
        v[self.by_content[_key(audio)]] = 1.0
        return v

    def embed_text(self, texts):
        return np.array([np.eye(len(self.classes))[self.prompts.index(t)] for t in texts])


@pytest.mark.slow
def test_an_oracle_retrieves_perfectly_on_medley():
    r = retrieval(_Oracle(), "medley", progress=False)
    e = r["embedders"]["oracle"]
    assert r["clips"] == 97 and len(r["classes"]) == 8 and r["chance"]["top1"] == 1 / 8
    assert e["map"] == 1.0 and e["zero_shot_top1"] == 1.0
    assert 0 < r["chance"]["map"] < 0.2
