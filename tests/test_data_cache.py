"""``timbrelab.data.cache``: spec → content-addressed folder → manifest, verified on load; and the
torch dataset adapters of ``timbrelab.data.adapters``."""

import json

import numpy as np
import pytest

from conftest import needs_synth
from timbrelab.data.cache import MANIFEST, Cache, DataError, spec_key, verify
from timbrelab.errors import BadParameterError

SPEC = {"kind": "ramp", "n": 1000, "seed": 3}


class Builder:
    """Writes data.npy (a seeded ramp) and notes.txt; counts its calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, folder):
        self.calls += 1
        rng = np.random.default_rng(SPEC["seed"])
        np.save(folder / "data.npy", np.arange(SPEC["n"], dtype=np.float32) + rng.standard_normal(SPEC["n"]).astype(np.float32))
        (folder / "notes.txt").write_text("hello")
        return {"items": [1, 2, 3]}


def test_build_once_then_load_verified(tmp_path):
    cache, build = Cache("test", tmp_path), Builder()
    e = cache.get(SPEC, "ramp", build)
    assert build.calls == 1 and e.folder == tmp_path / "test" / f"ramp-{spec_key(SPEC)[:12]}"
    m = json.loads((e.folder / MANIFEST).read_text())
    assert m["key"] == spec_key(SPEC) and m["spec"] == SPEC and m["items"] == [1, 2, 3]
    assert set(m["files"]) == {"data.npy", "notes.txt"} and verify(e.folder, SPEC) == []
    again = cache.get(SPEC, "ramp", build)
    assert build.calls == 1 and again.manifest == e.manifest  # cached
    assert cache.load(SPEC, "ramp").path("data.npy") == e.folder / "data.npy"
    assert cache.folder({**SPEC, "seed": 4}, "ramp") != e.folder  # another spec, another folder
    assert [p.name for p in (tmp_path / "test").iterdir()] == [e.folder.name]  # no temporary folder left


@pytest.mark.parametrize("damage", ["flip a byte", "truncate", "delete", "old manifest", "other spec"])
def test_a_damaged_build_is_rebuilt_or_refused(tmp_path, damage):
    cache, build = Cache("test", tmp_path), Builder()
    e = cache.get(SPEC, "ramp", build)
    data = e.folder / "data.npy"
    good = data.read_bytes()
    if damage == "flip a byte":
        b = bytearray(good)
        b[-5] ^= 0x01  # one bit of one sample: np.load would read it without complaint
        data.write_bytes(bytes(b))
    elif damage == "truncate":
        data.write_bytes(good[:-4])
    elif damage == "delete":
        data.unlink()
    elif damage == "old manifest":  # the layout before the cache (no file hashes)
        (e.folder / MANIFEST).write_text(json.dumps({"spec": SPEC, "items": []}))
    else:
        m = json.loads((e.folder / MANIFEST).read_text())
        m["key"] = spec_key({**SPEC, "seed": 99})
        (e.folder / MANIFEST).write_text(json.dumps(m))
    assert verify(e.folder, SPEC) != []
    with pytest.raises(DataError, match="damaged"):
        cache.load(SPEC, "ramp")
    with pytest.raises(DataError, match="damaged"):
        cache.get(SPEC, "ramp", build, on_mismatch="refuse")
    with pytest.raises(DataError):
        cache.get(SPEC, "ramp")  # no builder: refused, never used
    assert build.calls == 1
    rebuilt = cache.get(SPEC, "ramp", build)
    assert build.calls == 2 and data.read_bytes() == good and verify(rebuilt.folder, SPEC) == []


def test_a_failed_build_leaves_nothing(tmp_path):
    cache = Cache("test", tmp_path)

    def broken(folder):
        (folder / "half.npy").write_bytes(b"123")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        cache.get(SPEC, "ramp", broken)
    assert list((tmp_path / "test").iterdir()) == []
    with pytest.raises(BadParameterError):
        cache.get({"x": float("nan")}, "ramp", Builder())
    with pytest.raises(BadParameterError):
        cache.get(SPEC, "../escape", Builder())
    with pytest.raises(BadParameterError):
        Cache("a/b", tmp_path)


@needs_synth
def test_a_rendered_set_with_a_damaged_file_is_rebuilt_identically(tmp_path):
    from timbrelab.sounds.datasets import NoteSetSpec, build

    spec = NoteSetSpec(soundfonts=("TimGM6mb",), instruments=("flute",), pitch_step=24, velocities=(90,), duration_s=0.3, release_s=0.1)
    d = build(spec, progress=False, root=tmp_path)
    audio = d.folder / "audio.npy"
    good = audio.read_bytes()
    b = bytearray(good)
    b[-3] ^= 0x10
    audio.write_bytes(bytes(b))
    again = build(spec, progress=False, root=tmp_path)
    assert audio.read_bytes() == good and len(again) == len(d)


# ------------------------------------------------------------------------------------ adapters


def test_window_dataset_batches_share_memory_and_index_like_items():
    import torch

    from timbrelab.data.adapters import WindowDataset

    X = np.random.default_rng(0).standard_normal((10, 4, 6)).astype(np.float32)
    y = np.arange(10) % 3
    ds = WindowDataset(X, y)
    assert len(ds) == 10 and ds.y.dtype == torch.int64
    xb, yb = ds.batch(torch.tensor([7, 2, 2]))
    assert torch.equal(xb, torch.from_numpy(X[[7, 2, 2]])) and yb.tolist() == [1, 2, 2]
    x3, y3 = ds[3]
    assert torch.equal(x3, torch.from_numpy(X[3])) and int(y3) == 0
    loader = torch.utils.data.DataLoader(ds, batch_size=4)
    first = next(iter(loader))
    assert torch.equal(first[0], torch.from_numpy(X[:4]))
    X[0, 0, 0] = 42.0
    assert float(ds.X[0, 0, 0]) == 42.0  # no copy of the training windows
    with pytest.raises(BadParameterError):
        WindowDataset(X.astype(np.float64), y)
    with pytest.raises(BadParameterError):
        WindowDataset(X, y[:-1])


def test_mixture_and_caption_datasets():
    import torch

    from timbrelab.data.adapters import CaptionDataset, MixtureDataset

    rng = np.random.default_rng(1)
    sources = rng.standard_normal((5, 3, 100)).astype(np.float16)
    mixes = sources.astype(np.float32).sum(axis=1).astype(np.float16)
    ds = MixtureDataset(mixes, sources)
    m, s = ds[2]
    assert m.dtype == torch.float32 and s.shape == (3, 100)
    mb, sb = ds.batch([4, 0])
    assert mb.shape == (2, 100) and sb.shape == (2, 3, 100)
    torch.testing.assert_close(sb.sum(dim=1), mb, atol=1e-2, rtol=0)
    caps = CaptionDataset(mixes, [f"mix {i}" for i in range(5)])
    clip, cap = caps[1]
    assert clip.shape == (100,) and cap == "mix 1"
    cb, texts = caps.batch(np.array([3, 1]))
    assert cb.shape == (2, 100) and texts == ["mix 3", "mix 1"]
    with pytest.raises(BadParameterError):
        MixtureDataset(mixes, sources[:, :, :50])
    with pytest.raises(BadParameterError):
        CaptionDataset(mixes, ["only one"])


def test_a_resumable_build_keeps_finished_pieces_after_an_interruption(tmp_path):
    cache = Cache("test", tmp_path)
    calls = []

    def pieces(folder, fail_at=None):
        for k in range(4):
            p = folder / f"piece-{k}.npy"
            if p.exists():
                continue  # written by an earlier, interrupted run
            if k == fail_at:
                (folder / f"piece-{k}.npy.tmp").write_bytes(b"half")
                raise KeyboardInterrupt
            calls.append(k)
            np.save(p, np.full(10, k, np.float32))
        return {"pieces": 4}

    with pytest.raises(KeyboardInterrupt):
        cache.get(SPEC, "pieces", lambda f: pieces(f, fail_at=2), resumable=True)
    partial = cache.partial_folder(SPEC, "pieces")
    assert sorted(p.name for p in partial.glob("piece-*.npy")) == ["piece-0.npy", "piece-1.npy"]
    assert not cache.folder(SPEC, "pieces").exists()
    entry = cache.get(SPEC, "pieces", pieces, resumable=True)
    assert calls == [0, 1, 2, 3]  # 0 and 1 were not redone
    assert sorted(entry.manifest["files"]) == [f"piece-{k}.npy" for k in range(4)]  # the half-written .tmp is gone
    assert not partial.exists() and verify(entry.folder, SPEC) == []
    # force starts over
    calls.clear()
    cache.get(SPEC, "pieces", pieces, force=True, resumable=True)
    assert calls == [0, 1, 2, 3]


def test_crop_dataset_takes_seeded_random_crops_of_whole_clips():
    from timbrelab.data.adapters import CropDataset

    X = np.arange(3 * 2 * 20, dtype=np.float16).reshape(3, 2, 20)
    a = CropDataset(X, np.array([0, 1, 2]), frames=8, seed=5)
    b = CropDataset(X, np.array([0, 1, 2]), frames=8, seed=5)
    xa, ya = a.batch([2, 0, 2])
    xb, _ = b.batch([2, 0, 2])
    assert xa.shape == (3, 2, 8) and xa.dtype == torch_float32() and ya.tolist() == [2, 0, 2]
    assert np.array_equal(xa.numpy(), xb.numpy())
    for x, clip in zip(xa.numpy(), [2, 0, 2]):  # each crop is a contiguous stretch of its own clip
        start = int(x[0, 0] - X[clip, 0, 0])
        assert np.array_equal(x, X[clip, :, start : start + 8].astype(np.float32))
    starts = {int(a.batch([0])[0][0, 0, 0]) for _ in range(30)}
    assert len(starts) > 3  # the crop moves
    with pytest.raises(BadParameterError):
        CropDataset(X, np.array([0, 1, 2]), frames=21)


def torch_float32():
    import torch

    return torch.float32
