"""The approximate-nearest-neighbour index behind ``timbrelab search`` / ``timbrelab index``, and its benchmark.

**Why usearch.** :mod:`timbrelab.probe.search` keeps a folder's audio embeddings in a
``usearch.index.Index``: an HNSW graph that can add *and remove* vectors by key, so an index follows a
sample library incrementally (new, changed and deleted files) without being rebuilt — faiss's HNSW
cannot remove. It also does exact (brute-force) search over the same vectors, which is how recall is
checked; its wheel is small with no dependencies, Apache-2.0, and maintained.

**The settings** (one place, used by the index and by :func:`ann_benchmark`): metric cosine
(``"cos"``: usearch's distance is ``1 − cos``), vectors stored as float32 exactly as the embedder gave
them (not normalised: scores are recomputed from them), graph degree :data:`CONNECTIVITY`, candidate
lists :data:`EXPANSION_ADD` while adding and :data:`EXPANSION_SEARCH` while searching (chosen with
:func:`ann_benchmark` for recall@10 ≥ 0.95 at a million vectors in well under 50 ms a query: the
numbers below).

**Exact or approximate** (:func:`use_exact`, the rule): an index of at most :data:`NUMPY_MAX_VECTORS`
vectors is scored in full (numpy, float64: the ranking of the former brute-force search, exactly); one
of at most :data:`EXACT_MAX_VECTORS` by usearch's exact search (brute force, SIMD); a larger one through
the HNSW graph — unless more than a tenth of it is asked for (the graph would visit most of it anyway).
The last two ask for :data:`ANN_EXTRA_CANDIDATES` more candidates than wanted and rescore them exactly,
so ties at the cut are broken by path as in an exact ranking.

**The benchmark** (:func:`ann_benchmark`): seeded synthetic embeddings (``kind="library"``) made to
match what the default embedder gives for real recordings (measured on 165 of them, instrument solos
and a sample pack's one-shots: 95 % of the variance in ~30 of 128 dimensions, participation ratio ~13,
mean cosine with the mean direction ~0.5, a text query's best cosine with a sound ~0.2). Each vector is
a point of a mixture of :data:`BENCH_CLUSTERS` Gaussian clusters of uneven sizes (Dirichlet(1)
weights: sounds come in families) in a random :data:`BENCH_LATENT_DIMS`-dimensional subspace whose
i-th axis has variance ∝ i^-:data:`BENCH_SPECTRUM_DECAY`, plus a direction shared by all
(:data:`BENCH_MEAN_OFFSET`) and isotropic noise (:data:`BENCH_NOISE_FRACTION` of the variance), scaled
to unit length. A query is a random direction of that subspace plus the shared direction, drowned in
isotropic noise: far from every sound, as a text embedding is from the audio ones (the modality gap).
Such "far" queries are the hard case for a graph — harder than queries near the data, and than
clusters spread in every dimension (``kind="isotropic"``, kept for comparison). Build time is the wall
time of one batch ``add`` (``threads``); latency is one query at a time on one thread, ``k`` results,
as one user's search; recall@k is against usearch's exact search of the same vectors.

Measured (dim 128, the default embedder's; 200 queries, k 10; a 2-core machine busy with two training
runs; adds on 2 threads):

- 100,000 vectors: build 65 s (0.65 s per 1,000), 79 MB; the graph 5.7 ms a query (p95 6.9 ms),
  recall@10 0.998; usearch's brute force 6.0 ms (hence :data:`EXACT_MAX_VECTORS`).
- 1,000,000 vectors: build 1,630 s (at low priority), 788 MB on disk, 1.07 GB in memory; at
  expansion 1536, 14.9 ms a query (p95 18.5 ms), recall@10 0.980 (1024: 10.8 ms, 0.965; 2048: 18.7 ms,
  0.987). Loading it takes 0.87 s, memory-mapping it (``view=True``, how ``search --index DIR`` opens
  an index) 0.15 s, its first query then 15 ms.
- Connectivity 16 / expansion 128 was not enough: at 100,000 vectors recall@10 0.93 at expansion 256,
  0.97 at 512; at 1,000,000 isotropic ones 0.86 at 256 and 0.94 at 512.

An index grows by batches of ``timbrelab.probe.search.ADD_BATCH`` vectors as files are embedded, each
added on every core: at a million vectors an add costs about 1.6 ms of one core (embedding a short
sample with the default embedder costs about 8 ms).
"""

from __future__ import annotations

import os
import tempfile
import time

import numpy as np

#: usearch metric: cosine (distance = 1 − cos)
METRIC = "cos"
#: how vectors are stored: float32, as the embedder gave them
DTYPE = "f32"
#: HNSW graph degree (usearch's ``connectivity``, "M")
CONNECTIVITY = 32
#: candidate list while adding a vector (usearch's ``expansion_add``, "efConstruction")
EXPANSION_ADD = 256
#: candidate list while searching (usearch's ``expansion_search``, "ef"); a search of ``count`` results
#: uses ``max(count, EXPANSION_SEARCH)``
EXPANSION_SEARCH = 1536
#: an index of at most this many vectors is scored in full in numpy (float64; the whole ranking exact, ties by path)
NUMPY_MAX_VECTORS = 10_000
#: … of at most this many, by usearch's exact (brute-force) search: at 100,000 vectors of 128 dimensions it
#: is as fast as the graph at EXPANSION_SEARCH (about 6 ms on one core), and exact
EXACT_MAX_VECTORS = 100_000
#: an approximate search asks the graph for this many more candidates than wanted, rescored exactly
ANN_EXTRA_CANDIDATES = 16
#: the benchmark's synthetic embeddings (see the module docstring): clusters; dimensions of the subspace
#: that holds most of their variance, and how that variance falls off (the i-th dimension ∝ i^-decay);
#: the share of isotropic noise; the length of the direction all of them share
BENCH_CLUSTERS = 300
BENCH_LATENT_DIMS = 24
BENCH_SPECTRUM_DECAY = 0.9
BENCH_NOISE_FRACTION = 0.08
BENCH_MEAN_OFFSET = 0.6


def new_index(dim: int):
    """An empty usearch index with timbrelab's settings for ``dim``-dimensional embeddings."""
    from usearch.index import Index

    return Index(ndim=int(dim), metric=METRIC, dtype=DTYPE, connectivity=CONNECTIVITY,
                 expansion_add=EXPANSION_ADD, expansion_search=EXPANSION_SEARCH)


def restore_index(path, view: bool = False):
    """The usearch index saved at ``path`` (``view``: memory-mapped, read-only), with this module's search
    settings (the file keeps the graph, not the run-time expansions). Raises ValueError / RuntimeError /
    OSError for a file that is not a whole usearch index."""
    from usearch.index import Index

    index = Index.restore(os.fspath(path), view=view)
    if index is None:
        raise ValueError("not a usearch index")
    index.expansion_add = EXPANSION_ADD
    index.expansion_search = EXPANSION_SEARCH
    return index


def use_exact(n_vectors: int, count: int) -> bool:
    """Brute force rather than the graph: when the index holds at most :data:`EXACT_MAX_VECTORS` vectors
    or ``count`` is over a tenth of it."""
    return n_vectors <= EXACT_MAX_VECTORS or count * 10 > n_vectors


def ann_keys(index, query, count: int) -> np.ndarray:
    """Keys of up to ``count`` approximate nearest neighbours of ``query`` (one vector) in ``index``, closest first."""
    q = np.asarray(query, dtype=np.float32).ravel()
    return np.asarray(index.search(q, int(count), threads=1).keys, dtype=np.uint64)


def synthetic_embeddings(n_vectors: int, dim: int, n_queries: int = 0, seed: int = 0, clusters: int = BENCH_CLUSTERS,
                         kind: str = "library") -> tuple[np.ndarray, np.ndarray]:
    """``(vectors (n_vectors, dim), queries (n_queries, dim))``, float32, unit length, seeded (see the module
    docstring). ``kind``: ``"library"`` (shaped like the default embedder's audio embeddings) or
    ``"isotropic"`` (the worst case: clusters spread in every dimension)."""
    if kind not in ("library", "isotropic"):
        raise ValueError(f"kind must be library or isotropic, got {kind!r}")
    rng = np.random.default_rng(seed)
    k = max(1, min(int(clusters), int(n_vectors) or 1))
    weights = rng.dirichlet(np.ones(k))
    latent = min(BENCH_LATENT_DIMS, dim - 1) if kind == "library" and dim > 1 else dim
    var = (np.arange(latent) + 1.0) ** -BENCH_SPECTRUM_DECAY if kind == "library" else np.ones(latent)
    var /= var.sum()
    if kind == "library":
        basis = np.linalg.qr(rng.standard_normal((dim, latent + 1)))[0].T  # orthonormal rows: the subspace, the mean direction
        sub, mean_dir = basis[:latent], basis[latent]
    else:
        sub, mean_dir = np.eye(dim), np.zeros(dim)
    centres = rng.standard_normal((k, latent)) * np.sqrt(var)
    spread = rng.uniform(0.3, 0.9, k) if kind == "library" else rng.uniform(0.5, 1.0, k)
    if kind == "isotropic":
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)

    def draw_vectors(n: int) -> np.ndarray:
        out = np.empty((n, dim), dtype=np.float32)
        for a in range(0, n, 65536):  # in chunks: a million float64 rows at once is a lot of memory
            b = min(n, a + 65536)
            c = rng.choice(k, size=b - a, p=weights)
            z = centres[c] + spread[c][:, None] * rng.standard_normal((b - a, latent)) * (np.sqrt(var) if kind == "library" else 1 / np.sqrt(dim))
            x = z @ sub
            if kind == "library":
                x = x / np.sqrt(np.sum(var) * (1 + np.mean(spread ** 2))) + BENCH_MEAN_OFFSET * mean_dir
                x += np.sqrt(BENCH_NOISE_FRACTION / dim) * rng.standard_normal((b - a, dim))
            out[a:b] = x / np.linalg.norm(x, axis=1, keepdims=True)
        return out

    vectors = draw_vectors(int(n_vectors))
    if kind == "library":  # a direction of the embeddings' subspace, plus the gap between text and audio
        zq = rng.standard_normal((int(n_queries), latent)) * np.sqrt(var)
        d = zq @ sub
        d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-12)
        q = 0.10 * d + 0.04 * mean_dir + rng.standard_normal((int(n_queries), dim)) / np.sqrt(dim)
    else:  # from the same clusters, twice as spread out
        c = rng.choice(k, size=int(n_queries), p=weights)
        q = centres[c] + 2.0 * spread[c][:, None] * rng.standard_normal((int(n_queries), dim)) / np.sqrt(dim)
    q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    return vectors, q.astype(np.float32)


def ann_benchmark(n_vectors: int, dim: int, queries: int = 200, k: int = 10, seed: int = 0, threads: int = 0,
                  kind: str = "library") -> dict:
    """Build an index of ``n_vectors`` synthetic ``dim``-dimensional embeddings with timbrelab's settings and
    measure it (see the module docstring): build seconds (and per 1,000 vectors), index bytes, save and
    load seconds (loaded, and memory-mapped), query latency in ms (mean, p95; one query at a time) and
    recall@k against exact search. ``threads``: for the build and the exact search (0: every core)."""
    if n_vectors < 1 or dim < 1 or queries < 1 or k < 1:
        raise ValueError("n_vectors, dim, queries and k must be at least 1")
    vectors, qs = synthetic_embeddings(n_vectors, dim, queries, seed, kind=kind)
    keys = np.arange(n_vectors, dtype=np.uint64)
    index = new_index(dim)
    t0 = time.perf_counter()
    index.add(keys, vectors, threads=threads)
    build_s = time.perf_counter() - t0

    latencies = []
    found = []
    for q in qs:
        t = time.perf_counter()
        got = ann_keys(index, q, k)
        latencies.append((time.perf_counter() - t) * 1000.0)
        found.append(got)
    exact_lat = []
    for q in qs[: min(len(qs), 20)]:  # what the graph saves: a brute-force search, one query at a time
        t = time.perf_counter()
        index.search(q, k, exact=True, threads=1)
        exact_lat.append((time.perf_counter() - t) * 1000.0)
    exact = index.search(qs, k, exact=True, threads=threads)
    hits = sum(len(set(f.tolist()) & set(np.asarray(exact.keys[i][: exact.counts[i]]).tolist())) for i, f in enumerate(found))
    recall = hits / float(min(k, n_vectors) * len(qs))

    with tempfile.TemporaryDirectory(prefix="timbrelab-ann-") as d:
        path = os.path.join(d, "vectors.usearch")
        t = time.perf_counter()
        index.save(path)
        save_s = time.perf_counter() - t
        size = os.path.getsize(path)
        del index
        t = time.perf_counter()
        loaded = restore_index(path)
        load_s = time.perf_counter() - t
        del loaded
        t = time.perf_counter()
        viewed = restore_index(path, view=True)
        ann_keys(viewed, qs[0], k)
        view_s = time.perf_counter() - t
        del viewed
    lat = np.array(latencies)
    return {"n_vectors": int(n_vectors), "dim": int(dim), "queries": int(queries), "k": int(k), "seed": int(seed),
            "metric": METRIC, "dtype": DTYPE, "connectivity": CONNECTIVITY, "expansion_add": EXPANSION_ADD,
            "expansion_search": EXPANSION_SEARCH, "clusters": BENCH_CLUSTERS, "kind": kind, "threads": int(threads),
            "build_s": round(build_s, 3), "build_s_per_1000": round(1000.0 * build_s / n_vectors, 4), "index_bytes": int(size),
            "save_s": round(save_s, 3), "load_s": round(load_s, 3), "view_first_query_s": round(view_s, 4),
            "latency_ms_mean": round(float(lat.mean()), 3), "latency_ms_p95": round(float(np.percentile(lat, 95)), 3),
            "exact_latency_ms_mean": round(float(np.mean(exact_lat)), 3),
            f"recall_at_{k}": round(recall, 4), "recall": round(recall, 4)}
