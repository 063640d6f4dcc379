import numpy as np
import pytest

from augreid.core.errors import InputError
from augreid.data.annotations import Annotations, read_annotations, write_annotations
from augreid.data.market import scan_split


def test_real_train_file_reads_with_known_values(real_annotations):
    train = read_annotations(real_annotations / "market-annotation-train.csv")
    assert len(train) == 12936
    assert train.names[0] == "0224_c6s1_055726_02.jpg"
    pose = train.pose("0224_c6s1_055726_02.jpg")
    assert pose[:, 0].tolist() == [8, 23, 23, 43, 60, 23, 43, 60, 64, 92, 118, 65, 89, 108, 5, 6, 7, 8]
    assert pose[:, 1].tolist() == [39, 37, 20, 12, 8, 53, 59, 53, 22, 24, 24, 43, 43, 45, 36, 42, 31, 47]
    missing = train.pose("1123_c2s2_161352_01.jpg")
    assert missing[0].tolist() == [-1, -1] and missing[16].tolist() == [11, 39]
    assert train.keypoints[..., 0].max() <= 127 and train.keypoints[..., 1].max() <= 63


@pytest.mark.parametrize("file_name, rows", [("market-annotation-train.csv", 12936), ("market-annotation-test.csv", 19732)])
def test_real_files_round_trip_byte_for_byte(real_annotations, tmp_path, file_name, rows):
    source = real_annotations / file_name
    annotations = read_annotations(source)
    assert len(annotations) == rows
    write_annotations(tmp_path / file_name, annotations)
    assert (tmp_path / file_name).read_bytes() == source.read_bytes()


def test_every_real_sample_crop_is_annotated(real_annotations, real_sample):
    train = read_annotations(real_annotations / "market-annotation-train.csv")
    names = scan_split(real_sample, "train")["name"]
    assert train.missing(names) == []
    assert train.poses(names).shape == (18, 18, 2)


def _write(tmp_path, *rows, header="name:keypoints_y:keypoints_x"):
    path = tmp_path / "ann.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


GOOD = "0002_c1s1_000451_03.jpg: [" + ", ".join(["10"] * 18) + "]: [" + ", ".join(["20"] * 18) + "]"


@pytest.mark.parametrize(
    "row, message",
    [
        ("0002_c1s1_000451_03.jpg: [" + ", ".join(["10"] * 17) + "]: [" + ", ".join(["20"] * 18) + "]",
         "expected 18 keypoints_y values, got 17"),
        ("0002_c1s1_000451_03.jpg: [" + ", ".join(["10.5"] * 18) + "]: [" + ", ".join(["20"] * 18) + "]",
         "keypoints_y must be a list of integers"),
        ("0002_c1s1_000451_03.jpg: [a, b]: [1]", "keypoints_y is not a list of integers"),
        ("0002_c1s1_000451_03.jpg [1, 2]", "expected 'name: \\[y...\\]: \\[x...\\]'"),
        ("0002_c1s1_000451_03.jpg: [" + ", ".join(["-1"] + ["10"] * 17) + "]: [" + ", ".join(["20"] * 18) + "]",
         "a joint is missing in one coordinate only"),
        ("0002_c1s1_000451_03.jpg: [" + ", ".join(["-3"] * 18) + "]: [" + ", ".join(["-3"] * 18) + "]",
         "keypoints_y holds a negative value other than -1"),
        ("0002_c1s1_000451_03.jpg: [" + ", ".join(["128"] + ["10"] * 17) + "]: [" + ", ".join(["20"] * 18) + "]",
         "keypoints_y value 128 lies outside the image \\(0 to 127\\)"),
        ("0002_c1s1_000451_03.jpg: [" + ", ".join(["10"] * 18) + "]: [" + ", ".join(["20"] * 17 + ["64"]) + "]",
         "keypoints_x value 64 lies outside the image \\(0 to 63\\)"),
        ("person_7.jpg: [" + ", ".join(["10"] * 18) + "]: [" + ", ".join(["20"] * 18) + "]",
         "person_7.jpg: not a re-ID image name"),
    ],
)
def test_malformed_row_names_file_and_line(tmp_path, row, message):
    path = _write(tmp_path, GOOD.replace("0002", "0003"), row)
    with pytest.raises(InputError, match=f"{path}:3: {message}"):
        read_annotations(path)


def test_bad_header_duplicate_name_and_missing_file(tmp_path):
    with pytest.raises(InputError, match=":1: expected the header"):
        read_annotations(_write(tmp_path, GOOD, header="name,y,x"))
    with pytest.raises(InputError, match=":3: 0002_c1s1_000451_03.jpg already annotated on line 2"):
        read_annotations(_write(tmp_path, GOOD, GOOD))
    with pytest.raises(InputError, match="does not exist"):
        read_annotations(tmp_path / "absent.csv")
    (tmp_path / "binary.csv").write_bytes(bytes(range(256)))
    with pytest.raises(InputError, match=r"binary.csv: cannot read it as a text annotation file"):
        read_annotations(tmp_path / "binary.csv")


def test_write_is_atomic_and_readable(tmp_path):
    keypoints = np.arange(2 * 18 * 2).reshape(2, 18, 2) % 60
    keypoints[1, 3] = -1
    annotations = Annotations(["0002_c1s1_000451_03.jpg", "0002_c2s1_000551_01.jpg"], keypoints)
    write_annotations(tmp_path / "out.csv", annotations)
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]  # no temporary file left behind
    again = read_annotations(tmp_path / "out.csv")
    assert again.names == annotations.names
    np.testing.assert_array_equal(again.keypoints, keypoints)
