"""A run killed in the middle of a write leaves `atomic_file`'s temporary files (`.NAME.*.tmp`) and nothing else
half-done; the rerun removes them and finishes as if nothing had happened, with no folder to delete by hand."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def run(module: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, cwd=ROOT, timeout=300)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*.tmp"))


def test_generate_killed_before_its_run_record_or_in_its_writes_reruns_cleanly(tmp_path, small_synthetic):
    generate = ["augreid.generate", "--portion", "0.5", "--data-root", str(small_synthetic), "--generator",
                "duplicate", "--seed", "3"]
    out = tmp_path / "killed_early"
    out.mkdir()
    (out / ".run.json.k1ll3d.tmp").write_text("{")  # killed before run.json's first rename
    assert run(*generate, "--out", str(out)).returncode == 0
    whole = tmp_path / "whole"
    assert run(*generate, "--out", str(whole)).returncode == 0
    (whole / ".manifest.csv.k1ll3d.tmp").write_text("half")
    (whole / "bounding_box_train" / ".0001_c1s1_000001_00_duplicate.jpg.k1ll3d.tmp").write_bytes(b"\xff\xd8")
    assert run(*generate, "--out", str(whole)).returncode == 0
    assert leftovers(out) == leftovers(whole) == []
    assert (out / "manifest.csv").read_text() == (whole / "manifest.csv").read_text()
    assert sorted(p.name for p in (out / "bounding_box_train").iterdir()) == \
        sorted(p.name for p in (whole / "bounding_box_train").iterdir())


def test_reid_killed_in_its_final_writes_reruns_cleanly(tmp_path, small_synthetic):
    reid = ["augreid.reid", "--data-root", str(small_synthetic), "--config", "tests/configs/tiny.yaml", "--out",
            str(tmp_path / "run")]
    assert run(*reid).returncode == 0
    first = (tmp_path / "run" / "per_query.csv").read_text()
    (tmp_path / "run" / ".metrics.json.k1ll3d.tmp").write_text("{")
    (tmp_path / "run" / ".model.pt.k1ll3d.tmp").write_bytes(b"")
    assert run(*reid).returncode == 0
    assert leftovers(tmp_path / "run") == [] and (tmp_path / "run" / "per_query.csv").read_text() == first


def test_a_training_killed_between_its_checkpoint_and_its_summary_gets_its_summary_back(tmp_path, small_synthetic):
    from augreid.config import load_config
    from augreid.train_generator import train_generator

    config = load_config(ROOT / "tests" / "configs" / "tiny.yaml")
    first = train_generator("pona", small_synthetic, config, tmp_path / "run", progress=False, heldout=False)
    (tmp_path / "run" / "summary.json").unlink()  # the kill: checkpoint.pt and generator.pt written, no summary
    again = train_generator("pona", small_synthetic, config, tmp_path / "run", resume=True, progress=False,
                            heldout=False)
    assert again["last_losses"] == first["last_losses"] != {}
    assert again["iterations_per_second"] == first["iterations_per_second"] > 0
    assert again["step"] == first["step"] == config.generator_training.iterations and leftovers(tmp_path / "run") == []
