"""Text → audio retrieval on real recordings: does "a violin sound" find the violins?

The search a user runs (``timbrelab search``), measured on the project's real test sets
(``sounds.recordings``: Medley-solos-DB small, 97 clips of 8 instruments; the Debian set), which no
timbrelab model trains, selects or stops on. For each class of the set, the query is the probe's
prompt for the class name ("a violin sound"); every clip is ranked by cos(audio, text):

- **AP** per class (average precision of the clips of that class in the ranking) and its chance
  value (the class's share of the set — the expected AP of a random ranking, to first order);
- **P@10** per class (how many of the first 10 are of the class);
- **zero-shot top-1**: each clip's class = the query it is closest to (among the set's classes).

Deterministic; the audio is each file's first ``max_seconds`` (the embedder's own limit applies too).
"""

from __future__ import annotations

import numpy as np

from timbrelab.probe.embedders import check_embedding, load_embedder


def average_precision(scores, relevant) -> float:
    """AP of ranking by ``scores`` (descending, ties in index order) for the boolean ``relevant``."""
    s, r = np.asarray(scores, np.float64), np.asarray(relevant, bool)
    if not r.any():
        return 0.0
    order = np.argsort(-s, kind="stable")
    hits = r[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision[hits].mean())


def retrieval(embedders, set_name: str = "medley", top_k: int = 10, progress: bool | None = None) -> dict:
    """Per embedder: mAP, mean P@k, zero-shot top-1 over the set's classes, and per class AP / P@k."""
    from tqdm import tqdm

    from timbrelab.audio import read_audio
    from timbrelab.probe.reference import prompt_for
    from timbrelab.sounds.recordings import real_set, set_classes

    embs = [load_embedder(e) for e in (embedders if isinstance(embedders, (list, tuple)) else [embedders])]
    recs = real_set(set_name)
    classes = set_classes(recs)
    labels = np.array([classes.index(r.instrument) for r in recs])
    audio = {}
    out: dict = {"set": set_name, "clips": len(recs), "classes": classes, "queries": [prompt_for(c) for c in classes],
                 "chance": {"map": float(np.mean([np.mean(labels == k) for k in range(len(classes))])),
                            "top1": 1.0 / len(classes)}, "top_k": top_k, "embedders": {}}
    for emb in embs:
        T = check_embedding(emb.embed_text(out["queries"]), None, f"{emb.name}'s text embeddings")
        rows = []
        for r in tqdm(recs, desc=f"retrieval {emb.name}", unit="clip", disable=(progress is False) or None, leave=False):
            if r.path not in audio:
                audio[r.path] = read_audio(r.path)
            rows.append(check_embedding(emb.embed_audio(*audio[r.path]), T.shape[1], f"{emb.name}'s audio embedding"))
        A = np.array(rows)
        A = A / np.maximum(np.linalg.norm(A, axis=1, keepdims=True), 1e-12)
        Tn = T / np.maximum(np.linalg.norm(T, axis=1, keepdims=True), 1e-12)
        S = A @ Tn.T
        per_class = {}
        for k, c in enumerate(classes):
            order = np.argsort(-S[:, k], kind="stable")
            per_class[c] = {"ap": average_precision(S[:, k], labels == k), "p_at_k": float(np.mean(labels[order[:top_k]] == k)),
                            "clips": int(np.sum(labels == k))}
        out["embedders"][emb.name] = {
            "map": float(np.mean([v["ap"] for v in per_class.values()])),
            "mean_p_at_k": float(np.mean([v["p_at_k"] for v in per_class.values()])),
            "zero_shot_top1": float(np.mean(S.argmax(axis=1) == labels)),
            "per_class": per_class,
        }
    return out
