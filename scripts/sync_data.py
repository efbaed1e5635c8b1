#!/usr/bin/env python3
"""Copy the crowdsourced data timbrelab needs at run time from ../shared/data into the package.

Rerunnable: `python scripts/sync_data.py [--shared PATH]`. Writes src/timbrelab/lexicon/data/ and a
PROVENANCE.json with the source, licence note and SHA-256 of every copied file. The installed package
never reads ../shared.
"""
import argparse
import hashlib
import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEST = ROOT / "src" / "timbrelab" / "lexicon" / "data"
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


if __name__ == "__main__":
    main()
