
import numpy as np
import pandas as pd

from augreid.data.annotations import Annotations, read_annotations, write_annotations
from augreid.data.market import parse_name
from augreid.data.pairs import training_pairs, usable_for_pairs
from augreid.data.pose import JOINT, MISSING
from tests.tools.forked_cli import run_module


def test_published_rule_gives_263632_pairs_on_the_real_train_file(real_annotations):
    annotations = read_annotations(real_annotations / "market-annotation-train.csv")
    usable = usable_for_pairs(annotations)
    pairs = training_pairs(annotations)
    assert len(pairs) == 263632
    assert len(usable) == 12116
    assert len({parse_name(n).pid for n in usable}) == 745
    assert (pairs["from"] != pairs["to"]).all()
    assert (pairs["from"].str[:4] == pairs["to"].str[:4]).all()


def test_rule_on_hand_made_annotations():
    names = ["0002_c1s1_000001_01.jpg", "0002_c2s1_000002_01.jpg", "0002_c3s1_000003_01.jpg",
             "0005_c1s1_000004_01.jpg", "0005_c2s1_000005_01.jpg",  # the second has no left hip
             "0007_c1s1_000006_01.jpg", "0007_c4s1_000007_01.jpg",
             "-1_c1s1_000008_01.jpg", "0000_c1s1_000009_01.jpg"]
    keypoints = np.full((len(names), 18, 2), 30)
    keypoints[4, JOINT["l_hip"]] = MISSING
    keypoints[:, JOINT["nose"]] = MISSING  # other joints do not matter
    pairs = training_pairs(Annotations(names, keypoints))
    # identity 2: 3 * 2 ordered pairs; identity 5: one usable image, no pair; identity 7: 2; junk and 0000 never
    assert len(pairs) == 8
    assert list(pairs.iloc[0]) == ["0002_c1s1_000001_01.jpg", "0002_c2s1_000002_01.jpg"]
    assert not pairs.isin(names[3:5] + names[7:]).any().any()


def test_cli_writes_from_to_csv_and_prints_the_count(tmp_path, small_synthetic):
    out = tmp_path / "pairs.csv"
    result = run_module("augreid.pairs", "--annotations", str(small_synthetic / "market-annotation-train.csv"),
                        "--out", str(out), check=True)
    pairs = pd.read_csv(out)
    assert list(pairs.columns) == ["from", "to"]
    expected = training_pairs(read_annotations(small_synthetic / "market-annotation-train.csv"))
    assert len(pairs) == len(expected) > 0
    assert result.stdout.startswith(f"{len(pairs)} pairs from ")


def test_cli_bad_annotation_file_exits_2_with_one_line(tmp_path):
    bad = tmp_path / "bad.csv"
    write_annotations(bad, Annotations(["0002_c1s1_000001_01.jpg"], np.zeros((1, 18, 2))))
    bad.write_text(bad.read_text().replace("[0, 0, 0, ", "[0, 0, ", 1))
    out = tmp_path / "pairs.csv"
    result = run_module("augreid.pairs", "--annotations", str(bad), "--out", str(out))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"error: {bad}:2: expected 18 keypoints_y values, got 17"]
    assert not out.exists()
    bad.write_bytes(bytes(range(256)) * 4)  # a binary file given as annotations
    result = run_module("augreid.pairs", "--annotations", str(bad), "--out", str(out))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"error: {bad}: cannot read it as a text annotation file "
                                                  "(UnicodeDecodeError)"]
