import pandas as pd
import pytest

from augreid.core.errors import InputError
from augreid.data.market import is_identity, market_name, parse_name, scan_market, scan_split


def test_parse_name_reads_person_and_camera():
    name = parse_name("0002_c1s1_000451_03.jpg")
    assert (name.pid, name.camid, name.stem) == (2, 1, "0002_c1s1_000451_03")


@pytest.mark.parametrize("name, pid, camid", [("0005_c2_f0046985.jpg", 5, 2), ("7140_c8_f0170519.jpg", 7140, 8),
                                              ("12_c3_anything-else.jpg", 12, 3)])
def test_dukemtmc_and_other_names_read_as_torchreid_reads_them(name, pid, camid):
    parsed = parse_name(name)
    assert (parsed.pid, parsed.camid, str(parsed)) == (pid, camid, name)


def test_junk_and_distractor_pids():
    assert parse_name("-1_c5s3_086412_11.jpg").pid == -1
    assert parse_name("0000_c6s3_094992_02.jpg").pid == 0
    assert [is_identity(p) for p in (-1, 0, 1, 1501)] == [False, False, True, True]


@pytest.mark.parametrize("name", ["0002_c1s1_000451_03.jpg", "-1_c5s3_086412_11.jpg", "1501_c6s4_001877_01_g0002c3.jpg",
                                  "0005_c2_f0046985.jpg"])
def test_names_round_trip(name):
    assert str(parse_name(name)) == name


def test_the_real_sets_doubled_extension_is_a_market_name(real_annotations):
    """18 real test images are named `....jpg.jpg`; the published keypoint and pair files name them so."""
    doubled = [line.split(":")[0] for line in (real_annotations / "market-annotation-test.csv").read_text().splitlines()
               if ".jpg.jpg" in line]
    assert len(doubled) == 18
    assert parse_name("1488_c5s3_071737_01.jpg.jpg") == parse_name("1488_c5s3_071737_01.jpg")


def test_generated_tag_keeps_identity_and_camera():
    name = market_name(pid=2, camid=3, seq=1, frame=451, box=3)
    assert name == "0002_c3s1_000451_03.jpg"
    for tagged in (parse_name(name).tagged("g1"), parse_name("0005_c2_f0046985.jpg").tagged("g1")):
        assert tagged.endswith("_g1.jpg") and parse_name(tagged).pid in (2, 5)
    assert (parse_name(parse_name(name).tagged("g1")).pid, parse_name(parse_name(name).tagged("g1")).camid) == (2, 3)


@pytest.mark.parametrize("bad", ["0002_c1s1_000451_03.png", "Thumbs.db", "c1_0002.jpg", "0002_cX_f1.jpg",
                                 "person_0002_c1.jpg", "0002-c1s1_000451_03.jpg"])
def test_unparseable_name_is_an_input_error_naming_it(bad):
    with pytest.raises(InputError, match=bad.replace(".", r"\.")):
        parse_name(bad)


def test_scan_real_sample_crops(real_sample):
    table = scan_split(real_sample, "train")
    assert len(table) == 18
    assert list(table.columns) == ["path", "name", "pid", "camid", "split"]
    first = table.iloc[0]
    assert (first["name"], first["pid"], first["camid"], first["split"]) == ("0002_c2s1_000351_01.jpg", 2, 2, "train")
    assert table["pid"].nunique() == 18  # one crop per identity
    assert set(table["camid"]) <= set(range(1, 7))


def test_scan_synthetic_market_matches_its_summary(small_synthetic):
    import json

    table = scan_market(small_synthetic)
    summary = json.loads((small_synthetic / "synthetic.json").read_text())
    for split, counts in summary["counts"].items():
        rows = table[table["split"] == split]
        assert len(rows) == counts["images"]
        assert rows["pid"].map(is_identity).groupby(rows["pid"]).first().sum() == counts["identities"]
    assert table["path"].map(lambda p: p.endswith(".jpg")).all()
    assert pd.api.types.is_integer_dtype(table["pid"])


def test_scan_ignores_non_jpg_files_and_rejects_bad_jpg_names(tmp_path):
    folder = tmp_path / "bounding_box_train"
    folder.mkdir()
    (folder / "0002_c1s1_000451_03.jpg").write_bytes(b"")
    (folder / "Thumbs.db").write_bytes(b"")
    assert list(scan_split(tmp_path, "train")["pid"]) == [2]
    (folder / "person7.jpg").write_bytes(b"")
    with pytest.raises(InputError, match="person7.jpg"):
        scan_split(tmp_path, "train")


def test_missing_root_and_missing_split_folder_are_named(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        scan_market(tmp_path / "nowhere")
    (tmp_path / "bounding_box_train").mkdir()
    with pytest.raises(InputError, match="bounding_box_test"):
        scan_market(tmp_path)
