"""Feature front ends shared by every model: torch modules with JSON-able configs (shared ground:
nothing here imports a capability, the service or the CLI).

- ``logmel``: ``LogMelConfig``, the Slaney mel filterbank, ``LogMel`` (torch), ``log_mel`` (numpy
  audio at any rate), ``LogMelStream`` (the same frames for audio fed block by block).
- ``windows``: ``WindowConfig``, ``windows`` (cut ``(bands, frames)`` into fixed-length windows),
  ``WindowStream`` (the same windows for frames fed in pieces).
- ``standardize``: ``StandardizerConfig``, ``Standardizer`` (per-band zero mean / unit variance whose
  statistics are buffers that ship with a model's weights).
- ``stft``: ``STFTConfig``, complex ``stft`` / ``istft`` with perfect reconstruction (``STFT`` /
  ``ISTFT`` modules), the front end of the separation model.

Modules are imported on demand (``from timbrelab.features.logmel import log_mel``), so importing
this package costs nothing.
"""
