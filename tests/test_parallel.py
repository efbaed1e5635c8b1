"""Issue 17: batches on worker processes and Ray give the same outputs; batches resume where they stopped."""

import json
import importlib.util
import sys
from pathlib import Path

import pytest

from conftest import sha256
from parallel_toys import CountingTask, SizeTask
from timbrelab.audio import write_audio
from timbrelab.batch import MANIFEST_NAME, Manifest, run_batch
from timbrelab.dsp.signals import pink_noise
from timbrelab.parallel import ProcessExecutor

HAVE_RAY = importlib.util.find_spec("ray") is not None


@pytest.fixture
def library(tmp_path):
    """Five short takes and a corrupt one."""
    d = tmp_path / "library"
    d.mkdir()
    for i in range(5):
        write_audio(d / f"take{i}.wav", pink_noise(0.5, 22050, channels=2, seed=i), 22050, bit_depth="24")
    (d / "broken.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage")
    return d


def outputs(folder: Path) -> dict:
    return {p.name: sha256(p) for p in sorted(folder.iterdir()) if not p.name.startswith(".")}


def test_process_workers_run_in_input_order_and_survive_a_dying_worker(tmp_path):
    files = []
    for name in ["a", "die", "b", "bad", "c", "d", "e"]:
        p = tmp_path / name
        p.write_bytes(b"x" * (len(files) + 1))
        files.append(p)
    seen = []
    with ProcessExecutor(2) as ex:
        s = run_batch(files, SizeTask(), on_done=lambda f, v: seen.append(f.name), progress=False, executor=ex)
    assert seen == [f.name for f in files if f.name not in ("die", "bad")]  # in input order
    assert [v for _, v in s.processed] == [1, 3, 5, 6, 7]
    reasons = {f.path.name: f.reason for f in s.failed}
    assert reasons["bad"] == "not what I want"
    assert "died" in reasons["die"]
    # whatever was in flight beside the dying file failed with it, said so; nothing else was lost
    assert set(reasons) | {f.name for f, _ in s.processed} == {f.name for f in files}


def test_apply_is_identical_on_one_process_and_two_workers(cli, library, tmp_path):
    code1, out1, _ = cli("apply", library, "-o", tmp_path / "one", "warm, small room", "-q")
    code2, out2, _ = cli("apply", library, "-o", tmp_path / "two", "warm, small room", "-q", "--workers", "2")
    assert code1 == code2 == 1  # the broken file failed in both
    assert outputs(tmp_path / "one") == outputs(tmp_path / "two") and len(outputs(tmp_path / "one")) == 5
    assert "on 2 worker processes" in out2
    strip = lambda out: [l for l in out.splitlines() if "worker processes" not in l]
    assert strip(out1) == strip(out2.replace(str(tmp_path / "two"), str(tmp_path / "one")))


def test_classify_json_is_identical_on_one_process_and_two_workers(cli, library, tmp_path):
    cli("classify", library, "-o", tmp_path / "one.json", "--json")
    cli("classify", library, "-o", tmp_path / "two.json", "--json", "--workers", "2")
    one = (tmp_path / "one.json").read_bytes()
    assert one == (tmp_path / "two.json").read_bytes()
    assert len(json.loads(one)) == 5


def test_a_stopped_batch_resumes_without_doing_work_twice(tmp_path):
    files = []
    for i in range(6):
        p = tmp_path / f"f{i}"
        p.write_bytes(b"x" * (i + 1))
        files.append(p)
    out = tmp_path / "out"
    out.mkdir()
    m = Manifest.in_folder(out, "toy", {"k": 1}, output_of=lambda f: f)  # the input is its own output here
    task = CountingTask(stop_at=4)
    with pytest.raises(KeyboardInterrupt):
        run_batch(files, task, progress=False, manifest=m)
    assert task.calls == 4  # 3 finished, the 4th was interrupted
    again = CountingTask(stop_at=0)
    s = run_batch(files, again, progress=False, manifest=Manifest.in_folder(out, "toy", {"k": 1}, output_of=lambda f: f))
    assert again.calls == 3 and len(s.already_done) == 3 and len(s.processed) == 3
    assert "3 already done by an earlier run" in s.lines()[0]
    # other settings: nothing counts as done
    other = CountingTask(stop_at=0)
    run_batch(files, other, progress=False, manifest=Manifest.in_folder(out, "toy", {"k": 2}, output_of=lambda f: f))
    assert other.calls == 6
    # a changed input is done again; --redo does everything again
    files[0].write_bytes(b"changed")
    changed = CountingTask(stop_at=0)
    run_batch(files, changed, progress=False, manifest=Manifest.in_folder(out, "toy", {"k": 2}, output_of=lambda f: f))
    assert changed.calls == 1
    redo = CountingTask(stop_at=0)
    run_batch(files, redo, progress=False, manifest=Manifest.in_folder(out, "toy", {"k": 2}, output_of=lambda f: f, redo=True))
    assert redo.calls == 6


def test_apply_rerun_processes_only_what_is_missing(cli, library, tmp_path):
    out = tmp_path / "out"
    cli("apply", library, "-o", out, "warm", "-q")
    assert (out / MANIFEST_NAME).exists()
    first = outputs(out)
    (out / "take3.wav").unlink()  # lost, as after a crash
    code, text, _ = cli("apply", library, "-o", out, "warm", "-q", "--workers", "2")
    assert "wrote" in text and text.count("wrote ") == 1 and "take3.wav" in text
    assert "4 already done by an earlier run" in text
    assert outputs(out) == first
    code, text, _ = cli("apply", library, "-o", out, "bright", "-q")  # other words: everything again
    assert text.count("wrote ") == 5 and "already done" not in text


def test_classify_rerun_reuses_recorded_results(cli, library, tmp_path):
    cli("classify", library, "-o", tmp_path / "labels.json")
    first = (tmp_path / "labels.json").read_bytes()
    code, text, _ = cli("classify", library, "-o", tmp_path / "labels.json")
    assert "5 already done by an earlier run" in text
    assert (tmp_path / "labels.json").read_bytes() == first


def test_bad_workers_and_missing_ray_are_one_line(cli, library, tmp_path, monkeypatch):
    code, _, err = cli("apply", library, "-o", tmp_path / "o", "warm", "--workers", "0")
    assert code != 0 and "--workers must be" in err and "Traceback" not in err
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    code, _, err = cli("apply", library, "-o", tmp_path / "o", "warm", "--ray")
    assert code != 0 and 'pip install "timbrelab[ray]"' in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_RAY, reason="Ray is not installed (the optional extra: pip install \"timbrelab[ray]\"; scripts/setup.sh installs it)")
def test_apply_on_ray_is_identical(cli, library, tmp_path):
    cli("apply", library, "-o", tmp_path / "one", "warm, small room", "-q")
    code, out, _ = cli("apply", library, "-o", tmp_path / "ray", "warm, small room", "-q", "--ray", "--workers", "2")
    assert code == 1 and "Ray actors on a local Ray instance" in out
    assert outputs(tmp_path / "one") == outputs(tmp_path / "ray")
