#!/usr/bin/env python3
"""Copy the data timbrelab needs at run time from ../shared/data into the package.

Rerunnable: `python scripts/sync_data.py [--shared PATH]`. Writes
- src/timbrelab/lexicon/data/: the crowdsourced EQ/reverb maps and SocialFX data;
- src/timbrelab/sounds/data/medley-solos-db-small/: 97 real solo recordings (Medley-solos-DB,
  CC BY 4.0), the real test set of the timbre CNNs (never trained on), with its labels.csv and README;
- src/timbrelab/probe/data/: the timbre-semantics probe's reference data (Deng, Pardo & Pappas, code
  release, MIT): experiment 2's config and result tables, experiment 1's per-descriptor table, LICENSE;
each with a PROVENANCE.json giving the source, licence note and SHA-256 of every copied file. The
installed package never reads ../shared.
"""
import argparse
import hashlib
import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEST = ROOT / "src" / "timbrelab" / "lexicon" / "data"
MEDLEY_SRC = "real/medley-solos-db-small"
MEDLEY_DEST = ROOT / "src" / "timbrelab" / "sounds" / "data" / "medley-solos-db-small"
MEDLEY_NOTE = ("Medley-solos-DB v1.2 (Lostanlen, Cella, Bittner & Essid, Zenodo record 1344103, 2019), CC BY 4.0; "
               "the balanced 97-file subset of koerthawkins/neuroment2 (data/medley-solos-db-small/). Real recordings: a test set only.")
FILES = {
    "audealize/eqdescriptors.json": (
        "audealize_eq.json",
        "Audealize EQ descriptor map (Seetharaman & Pardo, 'Audealize: Crowdsourced audio production tools', JAES 64(9), 2016)",
    ),
    "audealize/reverbdescriptors.json": (
        "audealize_reverb.json",
        "Audealize reverb descriptor map (Seetharaman & Pardo, JAES 64(9), 2016); settings [d, g, m, f, E, wetdry]",
    ),
    "socialfx/eq_contributions.csv": (
        "socialfx_eq_contributions.csv",
        "SocialEQ/SocialFX per-contribution EQ data (Cartwright & Pardo, ISMIR 2013; Zheng, Seetharaman & Pardo, ACM MM 2016), personal fields removed",
    ),
    "socialfx/reverb_contributions.csv": (
        "socialfx_reverb_contributions.csv",
        "SocialFX per-contribution reverb data (Zheng, Seetharaman & Pardo, ACM MM 2016), personal fields removed",
    ),
    "socialfx/folds.json": (
        "socialfx_folds.json",
        "Four cross-validation folds of held-out test words, Venkatesh, Moffat & Miranda, JAES 70(9), 2022, Table 1",
    ),
}
PROBE_SRC = "probe-reference"
PROBE_DEST = ROOT / "src" / "timbrelab" / "probe" / "data"
PROBE_CITATION = ("Deng, Pardo & Pappas, 'Do joint language-audio embeddings encode perceptual timbre semantics?', "
                  "code release (reference results of its experiments 1 and 2)")
PROBE_LICENCE = "MIT License, Copyright (c) 2026 Timbre Semantics contributors (LICENSE, copied beside the tables)"
PROBE_FILES = {
    "experiment2_config.json": "experiment 2's protocol: the 20 EQ and 20 reverb descriptors, the strengths, the sources and the prompt",
    "experiment2_summary.csv": "experiment 2 over both effects, per model (LAION-CLAP, MSCLAP, MuQ-MuLan, OpenFLAM); rates as fractions 0-1",
    "experiment2_effects.csv": "experiment 2 per effect (eq, reverb) and model; rates in percent (timbrelab.probe.reference converts them to fractions)",
    "experiment1_descriptors.csv": "experiment 1: per-descriptor Pearson / Spearman between model similarity and CCMusic human ratings (16 descriptors)",
    "LICENSE": "the release's licence (MIT)",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shared", default=str(ROOT.parent / "shared" / "data"), help="the shared data folder")
    args = ap.parse_args()
    src_root = Path(args.shared)
    DEST.mkdir(parents=True, exist_ok=True)
    prov = {"copied_by": "scripts/sync_data.py", "source_root": "../shared/data (beside the checkout)", "files": {}}
    for rel, (name, what) in FILES.items():
        src = src_root / rel
        if not src.exists():
            raise SystemExit(f"sync_data: missing {src}")
        shutil.copyfile(src, DEST / name)
        digest = hashlib.sha256((DEST / name).read_bytes()).hexdigest()
        prov["files"][name] = {"source": rel, "sha256": digest, "description": what}
        print(f"copied {rel} -> {name} ({digest[:12]})")
    (DEST / "PROVENANCE.json").write_text(json.dumps(prov, indent=1) + "\n")
    sync_medley(src_root / MEDLEY_SRC)
    sync_probe(src_root / PROBE_SRC)


def sync_medley(src: Path) -> None:
    """Copy the Medley-solos-DB subset (labels.csv, README.md, the FLACs), checking each file's SHA-256 against labels.csv."""
    import csv

    if not (src / "labels.csv").exists():
        raise SystemExit(f"sync_data: missing {src / 'labels.csv'}")
    rows = list(csv.DictReader((src / "labels.csv").open(encoding="utf-8")))
    MEDLEY_DEST.mkdir(parents=True, exist_ok=True)
    prov = {"copied_by": "scripts/sync_data.py", "source_root": f"../shared/data/{MEDLEY_SRC}", "source": MEDLEY_NOTE, "files": {}}
    for name in ["labels.csv", "README.md"] + [r["file"] for r in rows]:
        shutil.copyfile(src / name, MEDLEY_DEST / name)
        digest = hashlib.sha256((MEDLEY_DEST / name).read_bytes()).hexdigest()
        prov["files"][name] = digest
    bad = [r["file"] for r in rows if prov["files"][r["file"]] != r["sha256"]]
    if bad:
        raise SystemExit(f"sync_data: SHA-256 differs from labels.csv for {', '.join(bad)}")
    (MEDLEY_DEST / "PROVENANCE.json").write_text(json.dumps(prov, indent=1) + "\n")
    print(f"copied {len(rows)} Medley-solos-DB recordings -> {MEDLEY_DEST.relative_to(ROOT)}")


def sync_probe(src: Path) -> None:
    """Copy the probe's reference files unchanged (the tables are read by timbrelab.probe.reference)."""
    PROBE_DEST.mkdir(parents=True, exist_ok=True)
    prov = {"copied_by": "scripts/sync_data.py", "source_root": f"../shared/data/{PROBE_SRC}",
            "citation": PROBE_CITATION, "licence": PROBE_LICENCE, "files": {}}
    for name, what in PROBE_FILES.items():
        if not (src / name).exists():
            raise SystemExit(f"sync_data: missing {src / name}")
        shutil.copyfile(src / name, PROBE_DEST / name)
        digest = hashlib.sha256((PROBE_DEST / name).read_bytes()).hexdigest()
        prov["files"][name] = {"source": f"{PROBE_SRC}/{name}", "sha256": digest, "description": what}
    (PROBE_DEST / "PROVENANCE.json").write_text(json.dumps(prov, indent=1) + "\n")
    print(f"copied {len(PROBE_FILES)} probe reference files -> {PROBE_DEST.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
