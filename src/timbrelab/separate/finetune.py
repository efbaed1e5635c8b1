"""``timbrelab finetune-separator``: seed 002's transfer learning on a user's own material.

Data layout — one folder per example, any readable audio format::

    DATA_DIR/
      take-01/
        mixture.wav      the mix
        target.wav       what the query should extract from it (same length)
        query.txt        the description, one line: "the violin"
      take-02/ …

Every file is read at the model's rate and down-mixed to mono. Examples are split by folder name:
every fifth one (at least one) is held out for validation (early stopping, choosing each phase's best
epoch); the rest are training material, cut into random ``crop_s`` crops at random levels. The two
phases of :mod:`timbrelab.separate.train` run on it — query network frozen, then unfrozen — and the
result is written to ``OUT/separator.safetensors`` with ``OUT/run.json`` (so
``timbrelab separate --model OUT/separator.safetensors`` uses it). Per-epoch state goes to
``OUT/state/``: rerunning the same command resumes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from timbrelab.errors import BadParameterError

NAME = "separator"


@dataclass
class Triple:
    name: str
    mixture: np.ndarray  # mono, model rate
    target: np.ndarray
    query: str


def _one(folder: Path, stem: str) -> Path:
    from timbrelab.audio import is_readable_ext

    found = sorted(p for p in folder.glob(f"{stem}.*") if is_readable_ext(p))
    if len(found) != 1:
        raise BadParameterError(f"{folder.name}: needs exactly one {stem}.<audio> file, found {len(found)}")
    return found[0]


def load_triples(data_dir, sample_rate: int) -> list[Triple]:
    """Every example folder of ``data_dir`` (see the module docstring), read at ``sample_rate``."""
    from timbrelab.audio import read_audio

    root = Path(data_dir)
    if not root.is_dir():
        raise BadParameterError(f"{data_dir}: not a folder of examples (see timbrelab finetune-separator --help)")
    out = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        qfile = folder / "query.txt"
        if not qfile.exists():
            raise BadParameterError(f"{folder.name}: no query.txt (one line naming what target.* holds, e.g. 'the violin')")
        query = " ".join(qfile.read_text(encoding="utf-8").split())
        if not query:
            raise BadParameterError(f"{folder.name}: query.txt is empty")
        mix = read_audio(_one(folder, "mixture"), sample_rate, mono=True)[0][0]
        tgt = read_audio(_one(folder, "target"), sample_rate, mono=True)[0][0]
        if abs(len(mix) - len(tgt)) > max(2, 0.01 * len(mix)):
            raise BadParameterError(f"{folder.name}: mixture and target lengths differ ({len(mix)} and {len(tgt)} samples at {sample_rate} Hz)")
        n = min(len(mix), len(tgt))
        out.append(Triple(folder.name, mix[:n].astype(np.float32), tgt[:n].astype(np.float32), query))
    if len(out) < 2:
        raise BadParameterError(f"{data_dir}: needs at least two example folders (one is held out for validation), found {len(out)}")
    return out


def split(triples: list[Triple]) -> tuple[list[Triple], list[Triple]]:
    val = triples[4::5] or triples[-1:]
    names = {t.name for t in val}
    return [t for t in triples if t.name not in names], val


def _crop(t: Triple, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    if len(t.mixture) <= n:
        pad = (0, n - len(t.mixture))
        return np.pad(t.mixture, pad), np.pad(t.target, pad)
    s = int(rng.integers(0, len(t.mixture) - n + 1))
    return t.mixture[s : s + n], t.target[s : s + n]


def finetune(data_dir, out_dir, base: str | None = None, epochs: tuple[int, int] = (4, 2), epoch_examples: int = 256, crop_s: float = 2.0,
             batch_size: int = 8, seed: int = 0, progress: bool | None = None, command: str = "timbrelab finetune-separator") -> dict:
    """Fine-tune a separator (``base``: a checkpoint path; None: the shipped one) on ``data_dir``."""
    import torch

    from timbrelab.ml.registry import checkpoint_path, write_run
    from timbrelab.ml.checkpoint import load_checkpoint
    from timbrelab.separate.model import Separator
    from timbrelab.separate.train import PhaseConfig, SeparatorTrainConfig, two_phase_fit

    out_dir = Path(out_dir)
    base_path = Path(base) if base else checkpoint_path(NAME)
    model = Separator.from_checkpoint(load_checkpoint(base_path))
    net = model.net
    sr = model.sample_rate
    triples = load_triples(data_dir, sr)
    train, val = split(triples)
    n = max(net.config.hop, int(round(crop_s * sr)))
    val_examples = [{"mixture": t.mixture, "target": t.target, "query": t.query} for t in val]
    if not any(float(np.abs(t.target).max()) > 0 for t in val):
        raise BadParameterError("finetune-separator: every validation example's target is silent; validation needs a target that sounds")

    def draw(epoch, idx):
        out = []
        for i in idx:
            rng = np.random.default_rng([seed, epoch, i])
            t = train[int(rng.integers(len(train)))]
            m, g = _crop(t, n, rng)
            level = 10 ** (rng.uniform(-6, 6) / 20)
            out.append({"mixture": (m * level).astype(np.float32), "target": (g * level).astype(np.float32), "query": t.query})
        return out

    cfg = SeparatorTrainConfig(seed=seed, batch_size=batch_size, epoch_examples=epoch_examples,
                               phase1=PhaseConfig(epochs=epochs[0], lr=3e-4, warmup_steps=20, patience=None),
                               phase2=PhaseConfig(epochs=epochs[1], lr=1e-4, query_lr=3e-5, warmup_steps=10, patience=None))
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    metrics = two_phase_fit(net, draw, val_examples, cfg, progress, out_dir / "state", desc="finetune")
    metrics.update({"examples": {"train": [t.name for t in train], "validation": [t.name for t in val]}, "base": str(base_path)})
    tuned = Separator(net, NAME, {**model.info, "finetuned_on": str(data_dir)})
    recipe = {"model": {"name": NAME, "loader": "timbrelab.separate.model:Separator", "trainer": "timbrelab.separate.finetune:finetune"},
              "data": {"description": f"user examples in {data_dir}"}, "train": cfg.to_dict()}
    write_run(out_dir, NAME, tuned.to_checkpoint(), recipe["model"]["loader"], recipe, metrics, recipe["data"]["description"], command)
    return metrics
