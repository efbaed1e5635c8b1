# Run at commit 3fd5caf (git worktree; PYTHONPATH=src python seed_spread.py): seeds 1 and 2 of the two-soundfont
# bench's small-rect-1x, beside seed 0 in bench_timbre_cnn.json. Output: seed_spread.json.
# Issue 9: the spread of the two-soundfont small-rect-1x recipe over training seeds (old code at 3fd5caf)
import json
from timbrelab.bench.timbre_cnn import data_specs
from timbrelab.sounds.datasets import build
from timbrelab.timbre_cnn import data as TD
from timbrelab.timbre_cnn.evaluate import score
from timbrelab.timbre_cnn.models import paper_configs
from timbrelab.timbre_cnn.train import TrainConfig, train_model
specs = data_specs(False)
built = {k: build(s) for k, s in specs.items()}
train_all = TD.concat([TD.from_dataset(built["train_notes"]), TD.from_dataset(built["train_phrases"])])
train, val = TD.split_validation(train_all, 0.15, seed=0)
notes = TD.from_dataset(built["test_notes"])
out = []
for seed in (1, 2):
    r = train_model(paper_configs(len(TD.CLASSES))["small-rect-1x"], train, val, TrainConfig(max_epochs=12, patience=3, seed=seed), progress=False)
    s, _ = score(r.model, notes, multi_label=False)
    row = {"seed": seed, "val_accuracy": max(h["val_accuracy"] for h in r.history), "notes_accuracy": s["accuracy"], "notes_macro_f1": s["macro_f1"], "epochs": len(r.history)}
    print(json.dumps(row), flush=True)
    out.append(row)
json.dump(out, open("seed_spread.json", "w"), indent=1)
