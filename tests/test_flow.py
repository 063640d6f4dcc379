"""The Prefect flow on a tiny configuration, under Prefect's test harness (a temporary server)."""
import json
import os
import tempfile

os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="augreid-prefect-")  # before prefect is imported
os.environ.pop("PREFECT_API_URL", None)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

import shutil  # noqa: E402
import threading  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from prefect import flow, get_client  # noqa: E402
from prefect.client.schemas.objects import StateType  # noqa: E402
from prefect.context import FlowRunContext  # noqa: E402
from prefect.deployments import run_deployment  # noqa: E402
from prefect.exceptions import ParameterTypeError  # noqa: E402
from prefect.states import Completed, Crashed, Failed  # noqa: E402
from prefect.testing.utilities import prefect_test_harness  # noqa: E402

from augreid.core.errors import InputError  # noqa: E402
from augreid.core.tensors_file import tensors_digest  # noqa: E402
from augreid.protocol.pose_entropy import entropy_line  # noqa: E402
from flows import children  # noqa: E402
from flows.augment_and_evaluate import augment_and_evaluate, check_parameters  # noqa: E402
from flows.tasks import cached, finished_generator, folder_digest, prepare_data, reid_task  # noqa: E402

TINY = Path(__file__).parent / "configs" / "tiny.yaml"


@pytest.fixture(scope="module")
def harness():
    with prefect_test_harness():
        yield


@pytest.fixture()
def tiny_config(tmp_path):
    path = tmp_path / "tiny.yaml"  # one per test: the cache keys include the path, so no test reuses another's
    shutil.copy(TINY, path)
    return str(path)


def test_bad_parameters_fail_fast(tiny_config, tmp_path):
    with pytest.raises(ValueError, match="unknown generator 'vunet'"):
        check_parameters(tiny_config, None, [0.5], ["vunet"], [0])
    with pytest.raises(ValueError, match="portions: 1.5 is outside"):
        check_parameters(tiny_config, None, [1.5], ["pona"], [0])
    with pytest.raises(ValueError, match="data_root: .* does not exist"):
        check_parameters(tiny_config, str(tmp_path / "absent"), [0.5], ["pona"], [0])
    with pytest.raises(ValueError, match="parallel: 0 must be at least 1"):
        check_parameters(tiny_config, None, [0.5], ["pona"], [0], parallel=0)
    with pytest.raises(ValueError, match=r"factors: 1 is below 2 \(K = 1 is the original set\)"):
        check_parameters(tiny_config, None, [0.5], ["pona"], [0], factors=[2, 1])
    with pytest.raises(ValueError, match="portions \\(or factors\\), generators and seeds must each name"):
        check_parameters(tiny_config, None, [], ["pona"], [0])
    with pytest.raises(ValueError, match="poses: 'canonical' is neither 'pool' nor 'canonical N'"):
        check_parameters(tiny_config, None, [], ["pona"], [0], factors=[2], poses="canonical")
    with pytest.raises(ValueError, match="factors: K = 5 adds 4 poses per image, more than the 3 canonical poses"):
        check_parameters(tiny_config, None, [], ["pona"], [0], factors=[2, 5], poses="canonical 3")
    with pytest.raises(ValueError, match=r"^poses: 'rare x' is neither 'pool' nor 'canonical N' with N >= 1 nor "):
        check_parameters(tiny_config, None, [], ["pona"], [0], factors=[2], poses="rare x")
    check_parameters(tiny_config, None, [], ["pona"], [0], factors=[2, 9], poses="rare 3")  # K is not bounded by N
    with pytest.raises(ValueError, match="generators: pona\\+id0.5 needs none among the generators"):
        check_parameters(tiny_config, None, [0.5], ["pona", "pona+id0.5"], [0])
    with pytest.raises(ValueError, match="generators: duplicate\\+top0.5: the identity filter scores generated"):
        check_parameters(tiny_config, None, [0.5], ["none", "duplicate+top0.5"], [0])
    with pytest.raises(ValueError, match="generators: identity filter 'id2': 2 is out of range"):
        check_parameters(tiny_config, None, [0.5], ["none", "pona+id2"], [0])
    (tmp_path / "market").mkdir()
    with pytest.raises(InputError, match="missing Market-1501 split folder 'bounding_box_train'"):
        check_parameters(tiny_config, str(tmp_path / "market"), [0.5], ["pona"], [0])
    broken = tmp_path / "broken.yaml"
    broken.write_text(Path(tiny_config).read_text().replace("generators:\n", "generators:\n  gfla: {blocks: 2}\n"))
    with pytest.raises(InputError, match=r"generators.gfla: this shape does not build \(blocks must be 3"):
        check_parameters(str(broken), None, [0.5], ["gfla"], [0])


def test_flow_builds_table_vi_and_reuses_finished_steps(harness, tiny_config, tmp_path):
    output = str(tmp_path / "run")
    result = augment_and_evaluate(config=tiny_config, portions=[0.5, 1.0], generators=["pona", "none"], seeds=[0],
                                  output=output)
    rows = result["table"].splitlines()
    assert rows[0] == "| generator | p = 0.5 | p = 1 |"
    assert [row.split("|")[1].strip() for row in rows[2:]] == ["pona", "none"]
    assert rows[2].split("|")[3] == rows[3].split("|")[3]  # the shared p = 1.0 run
    for key in ("markdown", "csv", "plot", "gallery_pona", "quality", "comparisons", "comparisons_csv"):
        assert os.path.isfile(result["paths"][key])
    assert "gallery_none" not in result["paths"]  # a control generates nothing to show
    quality = result["quality_table"].splitlines()
    assert [row.split("|")[1].strip() for row in quality[2:]] == ["pona", "copy the condition image",
                                                                  "real target image (upper bound)"]
    assert len(result["verdicts"]) == 1 and result["verdicts"][0].startswith("pona vs none at p=0.5: ")
    assert result["notes"].startswith("Missing images conditioned on the kept image of the same person whose pose is "
                                      "nearest (condition: nearest); those without shoulders or hips generated like "
                                      "the others. Re-ID budget: epochs")
    assert "mAP: torchreid's average precision" in result["notes"]
    comparisons = pd.read_csv(result["paths"]["comparisons_csv"])
    assert list(comparisons[["generator", "baseline", "portion", "seeds"]].itertuples(index=False, name=None)) == [
        ("pona", "none", 0.5, 1)]
    assert result["verdicts"][0].endswith(", no verdict (one seed: training noise unmeasured)")
    written = {p: p.stat().st_mtime_ns for p in (tmp_path / "run").rglob("*") if p.suffix in (".json", ".pt", ".csv")}
    assert sum(p.name == "metrics.json" for p in written) == 3  # pona p0.5, none p0.5, shared p1.0
    assert sum(p.name == "per_query.csv" for p in written) == 3
    again = augment_and_evaluate(config=tiny_config, portions=[0.5, 1.0], generators=["pona", "none"], seeds=[0],
                                 output=output)
    assert again["table"] == result["table"]
    unchanged = {p: p.stat().st_mtime_ns for p in written if "report" not in p.parts}
    assert unchanged == {p: t for p, t in written.items() if "report" not in p.parts}  # every step reused

    augmented = next((tmp_path / "run" / "augmented").glob("pona_p0.5_*"))
    shutil.rmtree(augmented)  # a user cleans up part of the outputs: the cache must not answer with a ghost
    metrics = next((tmp_path / "run" / "reid").glob("pona_p0.5_*")) / "metrics.json"
    metrics.unlink()
    third = augment_and_evaluate(config=tiny_config, portions=[0.5, 1.0], generators=["pona", "none"], seeds=[0],
                                 output=output)
    assert third["table"] == result["table"]
    assert (augmented / "manifest.csv").is_file() and metrics.is_file()


def test_a_synthetic_backbone_is_trained_once_and_every_run_starts_from_it(harness, tiny_config, tmp_path):
    """`reid.backbone: synthetic`: one child trains the backbone on its own population; the cells, which need it,
    start only then, and with two seeds each comparison gets an interval and a verdict."""
    config = tmp_path / "backbone.yaml"
    config.write_text(Path(tiny_config).read_text().replace("  pretrained: false\n", "  pretrained: true\n  backbone: "
                      "synthetic\n") + "pretraining:\n  seed: 1\n  batch_size: 8\n  epochs: 1\n  stepsize: 1\n")
    output = tmp_path / "run"
    result = augment_and_evaluate(config=str(config), portions=[0.5, 1.0], generators=["none", "duplicate"],
                                  seeds=[0, 1], output=str(output))
    backbone = next((output / "backbone").glob("osnet_x0_25_*/backbone.pt"))
    assert json.loads((backbone.parent / "pretrain.json").read_text())["population_seed"] == 1
    runs = [json.loads(p.read_text()) for p in (output / "reid").glob("*/metrics.json")]
    assert len(runs) == 6 and {r["initial_weights"] for r in runs} == {str(backbone)}  # 2 seeds x 3 cells
    assert [line.split(":")[0] for line in result["verdicts"]] == ["duplicate vs none at p=0.5"]
    assert " over 2 seeds (per seed " in result["verdicts"][0]
    assert "re-ID backbone" in result["seconds"]


def test_any_generator_gets_its_row_images_made_elsewhere_and_a_plugin(harness, tiny_config, tmp_path, flip_plugin):
    """`external:mirror=DIR`: a tiny study's slots exported, filled by a script that is not augreid (each condition
    mirrored, in PATN's strips), read back; `flip`: the example plugin. Each gets its Table VI row, comparisons and
    quality row."""
    import subprocess
    import sys

    from augreid.config import load_config
    from augreid.data.synthetic import build_synthetic_market
    from augreid.study.slots import export_slots

    root = tmp_path / "market"
    build_synthetic_market(root, load_config(tiny_config).synthetic, seed=0, progress=False)
    export_slots(root, tmp_path / "slots", [0.5], [0], test_count=1000, test_seed=0)  # tiny.yaml's quality defaults
    for batch in sorted((tmp_path / "slots").glob("batch_*")):
        subprocess.run([sys.executable, str(Path(__file__).parent / "tools" / "mirror_generator.py"), str(batch),
                        str(tmp_path / "mirrored")], check=True)
    generators = [f"external:mirror={tmp_path / 'mirrored'}", "flip", "none"]
    result = augment_and_evaluate(config=tiny_config, data_root=str(root), portions=[0.5, 1.0], generators=generators,
                                  seeds=[0], output=str(tmp_path / "run"))
    rows = result["table"].splitlines()
    assert [row.split("|")[1].strip() for row in rows[2:]] == ["mirror", "flip", "none"]
    assert all(len(row.split("|")) == 5 and "(r1 " in row for row in rows[2:])
    comparisons = pd.read_csv(result["paths"]["comparisons_csv"])
    assert sorted(comparisons["generator"]) == ["flip", "mirror"] and set(comparisons["baseline"]) == {"none"}
    assert [line.split(" vs ")[0] for line in result["verdicts"]] == ["mirror", "flip"]
    quality = [row.split("|")[1].strip() for row in result["quality_table"].splitlines()[2:]]
    assert quality[:2] == ["mirror", "flip"] and "gallery_mirror" in result["paths"]
    with pytest.raises(ValueError, match="generators: .*: needs an existing folder of images"):
        check_parameters(tiny_config, str(root), [0.5], [f"external:mirror={tmp_path / 'absent'}"], [0])

    # the same images read by a pattern of the user's (single images) and by another panel of the strips
    from PIL import Image

    (tmp_path / "cropped").mkdir()
    for strip in (tmp_path / "mirrored").glob("*.jpg___*.jpg_vis.jpg"):
        source, target = strip.name.removesuffix(".jpg_vis.jpg").split(".jpg___")
        Image.open(strip).crop((256, 0, 320, 128)).save(tmp_path / "cropped" / f"{source}--{target}.png")
    generators = [f"external:cropped={tmp_path / 'cropped'}", f"external:first={tmp_path / 'mirrored'}", "none"]
    read = augment_and_evaluate(config=tiny_config, data_root=str(root), portions=[0.5], generators=generators,
                                seeds=[0], output=str(tmp_path / "read"), patterns={"cropped": "{from}--{to}.png"},
                                panels={"first": 0})
    assert [row.split("|")[1].strip() for row in read["table"].splitlines()[2:]] == ["cropped", "first", "none"]
    for label, expected in (("cropped", lambda pixels: pixels[:, ::-1]), ("first", lambda pixels: pixels)):
        augmented = next((tmp_path / "read" / "augmented").glob(f"{label}_p0.5_*"))
        row = pd.read_csv(augmented / "manifest.csv").query("source == 'generated'").iloc[0]
        drawn = np.asarray(Image.open(augmented / "bounding_box_train" / row["name"]), dtype=float)
        condition = np.asarray(Image.open(root / "bounding_box_train" / row["condition"]), dtype=float)
        assert np.abs(drawn - expected(condition)).mean() < 4  # the panel asked for, through two JPEG savings
    with pytest.raises(ValueError, match="patterns: 'mirror' is not one of the generators made elsewhere"):
        check_parameters(tiny_config, str(root), [0.5], ["none"], [0], patterns={"mirror": "patn"})
    with pytest.raises(ValueError, match=r"patterns: cropped: --pattern '\{from\}.png': needs \{from\} and \{to\}"):
        check_parameters(tiny_config, str(root), [0.5], [f"external:cropped={tmp_path / 'cropped'}"], [0],
                         patterns={"cropped": "{from}.png"})
    with pytest.raises(ValueError, match="two generators are named 'flip'"):
        check_parameters(tiny_config, str(root), [0.5], ["flip", f"external:flip={tmp_path / 'mirrored'}"], [0])


def dukemtmc_named(root: Path) -> dict[str, str]:
    """Rename a synthetic Market-1501 folder's images to DukeMTMC-reID's `PPPP_cC_fFFFFFFF.jpg`, in the folders and
    the keypoint files; returns old name -> new name."""
    from augreid.data.market import ANNOTATION_FILES, SPLIT_DIRS, parse_name

    renamed = {}
    for folder in SPLIT_DIRS.values():
        for image in sorted((root / folder).glob("*.jpg")):
            parsed = parse_name(image.name)
            person = "-1" if parsed.pid < 0 else f"{parsed.pid:04d}"
            renamed[image.name] = f"{person}_c{parsed.camid}_f{len(renamed) + 1:07d}.jpg"
            image.rename(image.with_name(renamed[image.name]))
    for name in ANNOTATION_FILES.values():
        lines = (root / name).read_text().splitlines()
        rows = [f"{renamed[line.split(':')[0]]}:{line.split(':', 1)[1]}" for line in lines[1:]]
        (root / name).write_text("\n".join(lines[:1] + rows) + "\n")
    return renamed


def test_a_dukemtmc_named_folder_runs_the_whole_study(harness, tiny_config, tmp_path):
    """DukeMTMC-reID names, and no training keypoints: the flow annotates the training images (BlazePose), then
    trains PoNA and SAN, generates, scores (PCKh included) and reports as for Market-1501."""
    from augreid.config import load_config
    from augreid.data.annotations import read_annotations
    from augreid.data.market import parse_name
    from augreid.data.synthetic import build_synthetic_market

    root = tmp_path / "duke"
    build_synthetic_market(root, load_config(tiny_config).synthetic, seed=0, progress=False)
    renamed = dukemtmc_named(root)
    (root / "market-annotation-train.csv").unlink()
    result = augment_and_evaluate(config=tiny_config, data_root=str(root), portions=[0.5, 1.0],
                                  generators=["pona", "san", "none"], seeds=[0], output=str(tmp_path / "run"))
    train = read_annotations(root / "market-annotation-train.csv")
    assert sorted(train.names) == sorted(p.name for p in (root / "bounding_box_train").glob("*.jpg"))
    assert all(name.count("_") == 2 and "_f" in name for name in train.names) and len(train) >= 20
    report = json.loads((root / "annotate.json").read_text())["runs"][-1]["splits"]
    assert report["train"]["estimated"] == len(train) and report["gallery"]["estimated"] == 0  # the test file kept
    rows = result["table"].splitlines()
    assert [row.split("|")[1].strip() for row in rows[2:]] == ["pona", "san", "none"]
    assert all("(r1 " in row for row in rows[2:])
    for generator in ("pona", "san"):
        manifest = pd.read_csv(next((tmp_path / "run" / "augmented").glob(f"{generator}_*")) / "manifest.csv")
        generated = manifest[manifest["source"] == "generated"]
        assert len(generated) > 0 and generated["name"].str.endswith(f"_{generator}.jpg").all()
        assert all(parse_name(n).pid == parse_name(t).pid for n, t in zip(generated["name"], generated["target"]))
        assert set(manifest["target"].dropna()) <= set(renamed.values())
    quality = result["quality_table"].splitlines()
    assert quality[0].split("|")[6].strip() == "PCKh (BlazePose)"
    assert [line.split("|")[1].strip() for line in quality[2:4]] == ["pona", "san"]
    assert all(float(line.split("|")[6]) >= 0 for line in quality[2:])  # generators, copy, real target: numbers


def test_flow_augments_by_a_factor_and_reports_its_table(harness, tiny_config, tmp_path):
    """`factors: [2]` alone: the full set (`none`), `duplicate` and PoNA each add one image per image; the factor
    table and its comparisons are written and published, and no Table VI is made of no portions."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    result = augment_and_evaluate(config=tiny_config, portions=[], generators=["pona", "none", "duplicate"], seeds=[0],
                                  factors=[2], output=str(tmp_path / "run"))
    assert result["table"] == "" and result["verdicts"] == [] and "markdown" not in result["paths"]
    rows = result["factor_table"].splitlines()
    assert rows[0] == "| generator | K = 2 |"
    assert [row.split("|")[1].strip() for row in rows[2:]] == ["pona", "none", "duplicate"]
    full = json.loads(next((tmp_path / "run" / "reid").glob("full_s0_*/metrics.json")).read_text())
    assert rows[3].split("|")[2].strip().startswith(f"{full['mAP']:.1f} (r1 {full['rank1']:.1f})")  # none: the full set
    assert [line.split(":")[0] for line in result["factor_verdicts"]] == [
        "pona vs none at K=2", "pona vs duplicate at K=2", "duplicate vs none at K=2"]
    assert result["factor_notes"].startswith("Every training image kept and K-1 added, conditioned on it, in poses "
                                             "drawn from the poses of other training images with shoulders and hips")
    measured = json.loads((next((tmp_path / "run" / "augmented").glob("pona_k2_*")) / "summary.json").read_text())
    quoted = entropy_line(measured["pose_clusters"], "Pose-cluster entropy at K = 2, mean over 1 seed")
    assert f" {quoted}.\n" in result["factor_notes"] and "added images: pool " in quoted
    for key in ("factor_markdown", "factor_csv", "factor_plot", "factor_comparisons", "factor_comparisons_csv",
                "quality"):
        assert os.path.isfile(result["paths"][key]), key
    comparisons = pd.read_csv(result["paths"]["factor_comparisons_csv"])
    assert list(comparisons["factor"]) == [2, 2, 2] and "portion" not in comparisons.columns
    assert sorted(p.name.split("_s0")[0] for p in (tmp_path / "run" / "augmented").iterdir()) == ["duplicate_k2",
                                                                                                   "pona_k2"]
    source = pd.read_csv(next((tmp_path / "run" / "augmented").glob("pona_k2_*")) / "manifest.csv")
    assert (source["source"] == "generated").sum() == (source["source"] == "kept").sum() > 0
    assert len(list((tmp_path / "run" / "reid").glob("*/metrics.json"))) == 3  # full, duplicate K=2, pona K=2
    with get_client(sync_client=True) as client:
        keys = {a.key for a in client.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=["factor-k", "factor-comparisons", "map-vs-factor"])))}
    assert keys == {"factor-k", "factor-comparisons", "map-vs-factor"}


def test_children_side_by_side_give_the_same_table_every_time(harness, tiny_config, tmp_path):
    """Two children at a time: every step still runs, and with each run's work in a worker process of its own
    (its own random generator), the numbers do not depend on which runs met."""
    runs = [augment_and_evaluate(config=tiny_config, portions=[0.5, 1.0], generators=["pona", "none", "duplicate"],
                                 seeds=[0], output=str(tmp_path / name), parallel=2) for name in ("a", "b")]
    assert runs[0]["table"] == runs[1]["table"] and runs[0]["verdicts"] == runs[1]["verdicts"]
    assert len(list((tmp_path / "a" / "reid").glob("*/metrics.json"))) == 4
    assert {"data", "generator training (pona)", "generator scoring", "generation", "re-ID runs", "report"} \
        == set(runs[0]["seconds"])
    assert runs[0]["wall_seconds"] > 0


def test_a_crashed_child_goes_back_to_the_pool_and_a_failed_one_does_not(harness, monkeypatch):
    """A child whose machine was lost ends Crashed: it is handed to the pool again, as a new flow run that another
    worker takes. A child that failed is not run again."""
    states, calls = [], []

    def fake_run_deployment(name, parameters, timeout):
        calls.append(name)
        return SimpleNamespace(id=len(calls), state=states.pop(0))

    @flow
    def parent() -> None:
        children.hand_to_pool("cell", "augment-and-reid/pool", {})

    monkeypatch.setattr(children, "run_deployment", fake_run_deployment)
    states[:] = [Crashed(message="No heartbeat"), Completed()]
    parent()
    assert calls == ["augment-and-reid/pool"] * 2
    states[:], calls[:] = [Failed(message="a bug")], []
    with pytest.raises(RuntimeError, match="ended Failed: a bug"):
        parent()
    assert len(calls) == 1


def test_a_failed_child_cancels_the_children_no_worker_has_taken(harness):
    """The first failure stops the children still queued on the pool before the parent waits for the running
    ones; on the server, they are the parent's flow runs that are still Scheduled."""
    stopped = threading.Event()

    def start(child):
        if child.key == "failing":
            return lambda: (_ for _ in ()).throw(RuntimeError("failing child"))
        return lambda: Counter() if stopped.wait(30) else None

    with pytest.raises(RuntimeError, match="failing child"):
        children._schedule([children.Child("failing", None, dict), children.Child("queued", None, dict)], start, 2,
                           stopped.set)
    assert stopped.is_set()

    @flow(name="queued-child")
    def queued_child() -> None:
        pass

    @flow
    def parent() -> list:
        with get_client(sync_client=True) as client:
            client.create_deployment(flow_id=client.create_flow(queued_child), name="pool")
        queued = [run_deployment("queued-child/pool", timeout=0) for _ in range(2)]
        children.cancel_queued_children(FlowRunContext.get().flow_run.id)
        with get_client(sync_client=True) as client:
            return [client.read_flow_run(run.id).state.type for run in queued]

    assert parent() == [StateType.CANCELLED] * 2


def test_flow_refuses_bad_parameters_before_training(harness, tiny_config, tmp_path):
    """Ranges are part of the flow's signature (the API checks them too); the rest is checked first thing."""
    with pytest.raises(ParameterTypeError, match=r"portions\.0: Input should be greater than 0"):
        augment_and_evaluate(config=tiny_config, portions=[0.0], generators=["pona"], output=str(tmp_path / "run"))
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match="file: exists and is not a folder"):
        augment_and_evaluate(config=tiny_config, portions=[0.5], generators=["pona"], output=str(tmp_path / "file"))
    assert not (tmp_path / "run").exists()


def test_an_image_replaced_by_one_of_the_same_size_reruns_the_study(harness, tiny_config, tmp_path):
    """A given data root is digested by its images' bytes: the same names and sizes with other bytes are new
    inputs, and no finished step answers for them."""
    from augreid.config import load_config
    from augreid.data.synthetic import build_synthetic_market

    root = tmp_path / "market"
    build_synthetic_market(root, load_config(tiny_config).synthetic, seed=0, progress=False)
    run = dict(config=tiny_config, data_root=str(root), portions=[0.5, 1.0], generators=["none"], seeds=[0],
               output=str(tmp_path / "run"))
    augment_and_evaluate(**run)
    before = {p.parent.name for p in (tmp_path / "run" / "reid").glob("*/metrics.json")}
    image = sorted((root / "bounding_box_train").glob("*.jpg"))[0]
    content = bytearray(image.read_bytes())
    content[15] ^= 1  # the JFIF header's pixel density: the same size, the same pixels, other bytes
    image.write_bytes(bytes(content))
    augment_and_evaluate(**run)
    after = {p.parent.name for p in (tmp_path / "run" / "reid").glob("*/metrics.json")}
    assert len(before) == 2 and len(after - before) == 2  # both runs trained again, under the new data digest


def test_tasks_as_plain_functions(tiny_config, tmp_path):
    data = prepare_data.fn(tiny_config, "unused", None, str(tmp_path / "data"))
    assert data["root"] == str(tmp_path / "data") and (tmp_path / "data" / "synthetic.json").is_file()
    assert prepare_data.fn(tiny_config, "unused", None, str(tmp_path / "data")) == data  # reused, same digest
    annotations = tmp_path / "data" / "market-annotation-train.csv"
    annotations.write_text(annotations.read_text().replace(",", ", ", 1))
    assert folder_digest(tmp_path / "data") != data["sha256"]  # any change to the inputs changes the key

    assert cached(reid_task, tmp_path / "absent", "metrics.json").refresh_cache is True
    assert cached(reid_task, tmp_path / "data", "synthetic.json").refresh_cache is False
    (tmp_path / "gen").mkdir()
    torch.save({"w": torch.ones(2)}, tmp_path / "gen" / "generator.pt")
    assert finished_generator(tmp_path / "gen") == {"checkpoint": str(tmp_path / "gen" / "generator.pt"),
                                                    "sha256": tensors_digest(tmp_path / "gen" / "generator.pt")}
