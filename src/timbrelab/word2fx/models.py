"""Regressors from a text embedding to effect settings (targets scaled to 0…1 by the caller).

All share one small interface, so the cross-validation code and the shipped predictors treat them
alike::

    model = KernelRegressor(bandwidth=0.1).fit(X, Y, sample_weight=w, words=words)
    Y_hat = model.predict(X_new, words=new_words)     # (n, n_outputs)
    tensors, config = model.state()                   # numpy arrays + JSON-able settings: what predict needs
    same = KernelRegressor.from_state(tensors, config)

``X`` is ``(n, dim)`` float embeddings (one row per contribution; repeated rows for a word with several
contributions are fine), ``Y`` is ``(n, n_outputs)`` in 0…1. ``words`` (the word of each row) is
used only by the regressors that read words (``uses_words``: the polarity kernel); the others ignore it.
``state`` stores float32 arrays (as the shipped files always did); ``from_state`` computes in float64.

- :class:`MeanRegressor` — the (weighted) mean training target, whatever the word.
- :class:`KNNRegressor` / :class:`KernelRegressor` — neighbours in embedding space (cosine), over
  per-word mean targets.
- :class:`RidgeRegressor` — a linear map with an L2 penalty, shrinking towards the mean target.
- :class:`MLPRegressor` — the Venkatesh et al. (2022) network: frozen embedding → dense
  300-200-100-80-60 (ReLU, dropout 0.1) → sigmoid outputs, MAE loss, SGD at lr 0.1 × 0.96 every
  10,000 updates; the epoch is chosen on a validation set the caller carves from training words.
  Optionally it predicts coefficients of a PCA basis of the training targets instead of raw values.
  Trained by the one training loop, :func:`timbrelab.ml.train.fit`.

``REGRESSORS`` names each kind for methods written as data (:mod:`timbrelab.word2fx.methods`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


def _unique_rows(X: np.ndarray, Y: np.ndarray, w: np.ndarray):
    """Group identical embedding rows (one word's contributions): mean target, summed weight."""
    keys, inverse = np.unique(np.round(X, 6), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    W = np.zeros(len(keys))
    np.add.at(W, inverse, w)
    Ym = np.zeros((len(keys), Y.shape[1]))
    np.add.at(Ym, inverse, Y * w[:, None])
    Ym /= np.maximum(W, 1e-12)[:, None]
    Xm = np.zeros((len(keys), X.shape[1]))
    np.add.at(Xm, inverse, X)
    Xm /= np.bincount(inverse, minlength=len(keys))[:, None]
    return Xm, Ym, W


def _weights(n: int, sample_weight) -> np.ndarray:
    return np.ones(n) if sample_weight is None else np.asarray(sample_weight, np.float64)


def _f32(a) -> np.ndarray:
    return np.asarray(a, np.float32)


def _f64(a) -> np.ndarray:
    return np.asarray(a, np.float32).astype(np.float64)


def _unit(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, np.float64)
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)


class MeanRegressor:
    """Predicts the weighted mean training target for every input (the 'mean curve' baseline)."""

    name = "mean"

    def fit(self, X, Y, sample_weight=None, **_):
        w = _weights(len(Y), sample_weight)
        self.mean_ = np.average(np.asarray(Y, np.float64), axis=0, weights=w)
        return self

    def predict(self, X, words=None) -> np.ndarray:
        return np.tile(self.mean_, (len(X), 1))

    def state(self) -> tuple[dict, dict]:
        return {"mean": _f32(self.mean_)}, {}

    @classmethod
    def from_state(cls, tensors: dict, config: dict) -> "MeanRegressor":
        self = cls()
        self.mean_ = _f64(tensors["mean"])
        return self


class _WordTable:
    """Fitting shared by the neighbour methods: one unit-length embedding, mean target and summed weight per word."""

    def fit(self, X, Y, sample_weight=None, **_):
        self.X_, self.Y_, self.W_ = _unique_rows(np.asarray(X, np.float64), np.asarray(Y, np.float64), _weights(len(Y), sample_weight))
        self.X_ = _unit(self.X_)
        return self

    def _table_state(self) -> dict:
        return {"X": _f32(self.X_), "Y": _f32(self.Y_), "W": _f32(self.W_)}

    def _load_table(self, tensors: dict):
        self.X_, self.Y_, self.W_ = _f64(tensors["X"]), _f64(tensors["Y"]), _f64(tensors["W"])
        return self


class KNNRegressor(_WordTable):
    """Mean target of the k most cosine-similar training words (weighted by similarity)."""

    def __init__(self, k: int = 5):
        self.k = k
        self.name = f"knn-{k}"

    def predict(self, X, words=None) -> np.ndarray:
        S = _unit(X) @ self.X_.T
        k = min(self.k, S.shape[1])
        idx = np.argpartition(-S, k - 1, axis=1)[:, :k]
        s = np.take_along_axis(S, idx, axis=1)
        w = np.maximum(s, 1e-6) * self.W_[idx]
        return np.einsum("nk,nko->no", w, self.Y_[idx]) / w.sum(axis=1, keepdims=True)

    def state(self) -> tuple[dict, dict]:
        return self._table_state(), {"k": self.k}

    @classmethod
    def from_state(cls, tensors: dict, config: dict) -> "KNNRegressor":
        return cls(k=int(config["k"]))._load_table(tensors)


class KernelRegressor(_WordTable):
    """Nadaraya–Watson regression over words: weights ``exp((cos − 1) / bandwidth) · support``."""

    def __init__(self, bandwidth: float = 0.1):
        self.bandwidth = bandwidth
        self.name = f"kernel-{bandwidth:g}"

    def predict(self, X, words=None) -> np.ndarray:
        S = _unit(X) @ self.X_.T
        K = np.exp((S - S.max(axis=1, keepdims=True)) / self.bandwidth) * self.W_[None, :]
        return (K @ self.Y_) / K.sum(axis=1, keepdims=True)

    def state(self) -> tuple[dict, dict]:
        return self._table_state(), {"bandwidth": self.bandwidth}

    @classmethod
    def from_state(cls, tensors: dict, config: dict) -> "KernelRegressor":
        return cls(bandwidth=float(config["bandwidth"]))._load_table(tensors)


class PolarityKernelRegressor(KernelRegressor):
    """Kernel regression that knows antonyms: a neighbour that is an *opposite* of the query word
    contributes its curve mirrored about the mean (``mean − (curve − mean)``) instead of its curve.

    ``relation(a, b) -> −1 / 0 / +1`` says whether two words are opposites or synonyms (timbrelab uses
    WordNet). With ``related_are_nearest`` a related training word (either sign) also counts as
    maximally similar, whatever the embedding says. ``gain`` scales the predicted deviation from the
    mean curve (< 1 shrinks towards it). Needs the words themselves, so ``fit``/``predict``
    take ``words=`` beside the embeddings. ``relation`` is not state: whoever loads the regressor
    gives it again (``from_state(..., relation=...)``).
    """

    uses_words = True

    def __init__(self, bandwidth: float = 0.1, relation=None, related_are_nearest: bool = False, gain: float = 1.0):
        super().__init__(bandwidth)
        self.gain = gain
        self.relation = relation
        self.related_are_nearest = related_are_nearest
        self.name = f"polarity-kernel-{bandwidth:g}"

    def fit(self, X, Y, sample_weight=None, words=None, **_):
        X, Y = np.asarray(X, np.float64), np.asarray(Y, np.float64)
        w = _weights(len(Y), sample_weight)
        self.mean_ = np.average(Y, axis=0, weights=w)
        uniq = sorted(set(words))
        idx = {u: i for i, u in enumerate(uniq)}
        inv = np.array([idx[u] for u in words])
        self.words_ = uniq
        self.W_ = np.bincount(inv, weights=w, minlength=len(uniq))
        self.Y_ = np.zeros((len(uniq), Y.shape[1]))
        np.add.at(self.Y_, inv, Y * w[:, None])
        self.Y_ /= np.maximum(self.W_, 1e-12)[:, None]
        self.X_ = np.zeros((len(uniq), X.shape[1]))
        np.add.at(self.X_, inv, X)
        self.X_ = _unit(self.X_ / np.bincount(inv, minlength=len(uniq))[:, None])
        return self

    def predict(self, X, words=None) -> np.ndarray:
        S = _unit(X) @ self.X_.T
        sign = np.ones_like(S)
        if self.relation is not None and words is not None:
            for r, q in enumerate(words):
                for c, n in enumerate(self.words_):
                    rel = self.relation(q, n)
                    if rel < 0:
                        sign[r, c] = -1.0
                    if rel and self.related_are_nearest:
                        S[r, c] = 1.0
        K = np.exp((S - S.max(axis=1, keepdims=True)) / self.bandwidth) * self.W_[None, :]
        dev = ((K * sign) @ (self.Y_ - self.mean_)) / K.sum(axis=1, keepdims=True)
        return np.clip(self.mean_ + self.gain * dev, 0.0, 1.0)

    def state(self) -> tuple[dict, dict]:
        return {**self._table_state(), "mean": _f32(self.mean_)}, {
            "bandwidth": self.bandwidth, "gain": self.gain, "related_are_nearest": self.related_are_nearest, "words": list(self.words_)}

    @classmethod
    def from_state(cls, tensors: dict, config: dict, relation=None) -> "PolarityKernelRegressor":
        self = cls(bandwidth=float(config["bandwidth"]), relation=relation, related_are_nearest=bool(config["related_are_nearest"]),
                   gain=float(config["gain"]))._load_table(tensors)
        self.mean_ = _f64(tensors["mean"])
        self.words_ = list(config["words"])
        return self


class RidgeRegressor:
    """Linear map from embedding to targets with an L2 penalty ``alpha`` (shrinks towards the mean curve)."""

    def __init__(self, alpha: float = 1.0):
        self.alpha = alpha
        self.name = f"ridge-{alpha:g}"

    def fit(self, X, Y, sample_weight=None, **_):
        X = np.asarray(X, np.float64)
        Y = np.asarray(Y, np.float64)
        w = _weights(len(Y), sample_weight)
        w = w / w.mean()
        self.x_mean_ = np.average(X, axis=0, weights=w)
        self.y_mean_ = np.average(Y, axis=0, weights=w)
        Xc, Yc = X - self.x_mean_, Y - self.y_mean_
        A = Xc.T @ (Xc * w[:, None]) + self.alpha * np.eye(X.shape[1])
        self.coef_ = np.linalg.solve(A, Xc.T @ (Yc * w[:, None]))
        return self

    def predict(self, X, words=None) -> np.ndarray:
        return np.clip(self.y_mean_ + (np.asarray(X, np.float64) - self.x_mean_) @ self.coef_, 0.0, 1.0)

    def state(self) -> tuple[dict, dict]:
        return {"x_mean": _f32(self.x_mean_), "y_mean": _f32(self.y_mean_), "coef": _f32(self.coef_)}, {"alpha": self.alpha}

    @classmethod
    def from_state(cls, tensors: dict, config: dict) -> "RidgeRegressor":
        self = cls(alpha=float(config["alpha"]))
        self.x_mean_, self.y_mean_, self.coef_ = _f64(tensors["x_mean"]), _f64(tensors["y_mean"]), _f64(tensors["coef"])
        return self


@dataclass
class MLPConfig:
    """The Venkatesh et al. (2022) network and its training, as data."""

    hidden: tuple = (300, 200, 100, 80, 60)
    dropout: float = 0.1
    lr: float = 0.1
    lr_decay: float = 0.96
    lr_decay_every: int = 10_000  # updates
    batch_size: int = 16
    max_epochs: int = 1000
    patience: int = 250  # epochs without validation improvement before stopping (it learns slowly)
    pca_components: int = 0  # > 0: predict this many PCA coefficients of the targets (linear head)
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


class MLPRegressor:
    """Frozen embedding → MLP → targets; see :class:`MLPConfig`."""

    def __init__(self, config: MLPConfig | None = None, **overrides):
        self.config = config or MLPConfig(**overrides)
        c = self.config
        self.name = "mlp" + (f"-pca{c.pca_components}" if c.pca_components else "")
        self.history_: list[float] = []

    def _build(self, dim_in: int, dim_out: int):
        import torch
        from torch import nn

        c = self.config
        torch.manual_seed(c.seed)
        layers, d = [], dim_in
        for h in c.hidden:
            layers += [nn.Linear(d, h), nn.ReLU(), nn.Dropout(c.dropout)]
            d = h
        layers.append(nn.Linear(d, dim_out))
        if not c.pca_components:
            layers.append(nn.Sigmoid())
        return nn.Sequential(*layers)

    def _decode(self, out: "np.ndarray") -> np.ndarray:
        if self.config.pca_components:
            return np.clip(self.mean_ + out @ self.basis_, 0.0, 1.0)
        return out

    def fit(self, X, Y, sample_weight=None, X_val=None, Y_val=None, w_val=None, progress=None, **_):
        """Train with :func:`timbrelab.ml.train.fit`; with ``X_val``/``Y_val`` the weights of the best
        validation epoch are kept (an improvement must beat the best weighted MAE by 1e-6; training
        stops after ``patience`` epochs without one). ``progress(epoch)`` is called after each epoch."""
        import torch

        from timbrelab.ml.train import LoopConfig
        from timbrelab.ml.train import fit as train_loop

        c = self.config
        X = np.asarray(X, np.float32)
        Y = np.asarray(Y, np.float64)
        w = _weights(len(Y), sample_weight)
        if c.pca_components:
            self.mean_ = np.average(Y, axis=0, weights=w)
            _, _, vt = np.linalg.svd((Y - self.mean_) * np.sqrt(w / w.mean())[:, None], full_matrices=False)
            self.basis_ = vt[: c.pca_components]
        self.net_ = net = self._build(X.shape[1], c.pca_components or Y.shape[1])
        opt = torch.optim.SGD(net.parameters(), lr=c.lr)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=c.lr_decay_every, gamma=c.lr_decay)
        Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y.astype(np.float32))
        wt = torch.from_numpy((w / w.mean()).astype(np.float32))
        if c.pca_components:
            basis_t = torch.from_numpy(self.basis_.astype(np.float32))
            mean_t = torch.from_numpy(self.mean_.astype(np.float32))

        def loss_on(b):
            out = net(Xt[b])
            if c.pca_components:
                out = out @ basis_t + mean_t
            return ((out - Yt[b]).abs().mean(dim=1) * wt[b]).mean()

        validate = None
        if X_val is not None:
            w_v = _weights(len(Y_val), w_val)

            def validate(_net) -> float:
                return float(np.average(np.abs(self.predict(X_val) - Y_val).mean(axis=1), weights=w_v))

        loop = LoopConfig(max_epochs=c.max_epochs, patience=c.patience, batch_size=c.batch_size, seed=c.seed, mode="min", min_delta=1e-6)
        result = train_loop(net, loss_on, len(Xt), loop, opt, sched, validate=validate, progress=False, desc="mlp", on_epoch=progress)
        self.history_ = [h["score"] for h in result.history if "score" in h]
        self.best_epoch_ = result.best_epoch
        return self

    def predict(self, X, words=None) -> np.ndarray:
        import torch

        self.net_.eval()
        with torch.no_grad():
            out = self.net_(torch.from_numpy(np.asarray(X, np.float32))).numpy().astype(np.float64)
        return self._decode(out)

    def state(self) -> tuple[dict, dict]:
        from timbrelab.ml.checkpoint import state_to_arrays

        tensors = state_to_arrays(self.net_.state_dict(), "net.")
        if self.config.pca_components:
            tensors.update(pca_mean=_f32(self.mean_), pca_basis=_f32(self.basis_))
        return tensors, {"config": self.config.to_dict(), "dim_in": int(self.net_[0].in_features)}

    @classmethod
    def from_state(cls, tensors: dict, config: dict) -> "MLPRegressor":
        from timbrelab.ml.checkpoint import arrays_to_state

        cfg = dict(config["config"])
        cfg["hidden"] = tuple(cfg["hidden"])
        self = cls(MLPConfig(**cfg))
        if self.config.pca_components:
            self.mean_, self.basis_ = _f64(tensors["pca_mean"]), _f64(tensors["pca_basis"])
        state = arrays_to_state(tensors, "net.")
        out_dim = state[max((k for k in state if k.endswith(".weight")), key=lambda k: int(k.split(".")[0]))].shape[0]
        self.net_ = self._build(int(config["dim_in"]), out_dim)
        self.net_.load_state_dict(state)
        return self


REGRESSORS = {"mean": MeanRegressor, "knn": KNNRegressor, "kernel": KernelRegressor, "polarity-kernel": PolarityKernelRegressor,
              "ridge": RidgeRegressor, "mlp": MLPRegressor}
#: kinds trained iteratively with early stopping on the validation words (kept, not refitted, after selection)
EARLY_STOPPED = frozenset({"mlp"})
