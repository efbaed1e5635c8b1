"""The timbre-semantics probe: do language–audio embeddings encode timbre? (Deng, Pardo & Pappas).

An instrument anyone can point at any embedder (issue 12):

- :mod:`timbrelab.probe.embedders` — the :class:`~timbrelab.probe.embedders.Embedder` protocol
  (``embed_audio(audio, sample_rate)`` and ``embed_text(texts)`` into one space) and
  :func:`~timbrelab.probe.embedders.load_embedder`, which finds one by built-in name, by an entry point
  of the group ``timbrelab.embedders``, or by ``package.module:factory``;
- :mod:`timbrelab.probe.laion_clap` — an adapter for LAION-CLAP with a checkpoint file the user supplies
  (never downloads anything);
- :mod:`timbrelab.probe.reference` — the release's protocol and reference tables (MIT), shipped in
  ``probe/data/`` by ``scripts/sync_data.py``;
- :mod:`timbrelab.probe.experiment2` — experiment 2 as the release does it: timbrelab's own Audealize
  EQ and reverb at growing strength, Δ = cos(processed, text) − cos(original, text), slopes and
  correlations over strengths;
- :mod:`timbrelab.probe.experiment1` — experiment 1 on a ratings table the user supplies (e.g. CCMusic's,
  converted; not redistributed): similarity vs human ratings per descriptor and per instrument;
- :mod:`timbrelab.probe.socialfx_rank` — SocialFX contributions rendered by timbrelab's EQ / reverb,
  the contributor's word ranked among held-out words (MRR, AUC) against chance and a text-only reference;
- :mod:`timbrelab.probe.describe` — a sound's closest timbre words (the crowd maps' vocabulary);
- :mod:`timbrelab.probe.search` — a folder's audio embeddings in an incremental, cached index, ranked by
  a description.

The built-in embedders are timbrelab's own language–audio models (:mod:`timbrelab.clap`, TimbreCLAP).

This is a capability: it imports the shared ground and the other capabilities (``fx``), never the
service, the CLI or the studio (``timbrelab probe`` is the shell in :mod:`timbrelab.commands.probe`).
"""
