"""The identity score: generated test images as re-ID queries against the real gallery."""
import dataclasses
from pathlib import Path

import pandas as pd
import pytest
import torch

from augreid.config import load_config
from augreid.data.synthetic import build_synthetic_market
from augreid.evaluation.quality import evaluate, identity_summary, quality_table
from augreid.models import build_generator
from augreid.reid import train_reid
from augreid.reid.identity import identity_scores
from augreid.sources.checkpoint import generator_payload, save

DEMO = load_config(Path(__file__).parents[1] / "configs" / "demo.yaml")


def test_the_pairs_identity_is_dropped_from_both_its_cameras():
    # gallery: person 1 in cameras 1, 2, 3 (the pair's condition is the camera-1 image, its target the camera-2
    # one) and person 2 in cameras 1 and 3; features on a line, so distances are easy to read
    gallery = pd.DataFrame({"name": ["0001_c1s1_000001_00.jpg", "0001_c2s1_000001_00.jpg", "0001_c3s1_000001_00.jpg",
                                     "0002_c1s1_000001_00.jpg", "0002_c3s1_000001_00.jpg"],
                            "pid": [1, 1, 1, 2, 2], "camid": [1, 2, 3, 1, 3]})
    features = torch.tensor([[0.0], [1.0], [5.0], [3.0], [2.0]])
    pairs = pd.DataFrame({"from": [gallery["name"][0]], "to": [gallery["name"][1]]})
    scores = identity_scores({"target": torch.tensor([[1.0]]), "copy": torch.tensor([[0.0]]),
                              "generated": torch.tensor([[4.8]])}, pairs, gallery, features)
    # the target's own image (distance 0) and the condition's are out: person 2 (c3 at 1.0, c1 at 2.0) comes
    # before person 1's camera-3 image (4.0): rank 3, AP 1/3
    assert scores["target"] == {"rank1": 0.0, "mAP": pytest.approx(33.33), "pairs": 1}
    assert scores["copy"]["rank1"] == 0.0  # the copy cannot match its own original either
    assert scores["generated"] == {"rank1": 100.0, "mAP": 100.0, "pairs": 1}
    lonely = pd.DataFrame({"from": [gallery["name"][3]], "to": [gallery["name"][4]]})  # person 2 has no third camera
    with pytest.raises(Exception, match="no test pair's identity has a gallery image in a third camera"):
        identity_scores({"target": torch.tensor([[1.0]])}, lonely, gallery, features)


def test_real_targets_keep_their_identity_and_an_untrained_generator_does_not(tmp_path):
    """On the demo's synthetic set: a re-ID model trained on its real training set recognises the real target
    images far better than what an untrained PoNA paints."""
    root = tmp_path / "demo"
    build_synthetic_market(root, DEMO.synthetic, seed=0, workers=2, progress=False)
    # the demo's model from scratch (its recipe starts from a synthetic backbone), 8 epochs: rank-1 28 on the
    # real targets, 20 on the copies, 0 on the untrained generator's images
    train_reid(root, dataclasses.replace(DEMO.reid, pretrained=False, batch_size=32, epochs=8, lr=0.006,
                                         schedule="step", stepsize=6), tmp_path / "reid", seed=0)
    torch.manual_seed(0)
    architecture = DEMO.generators.pona
    untrained = build_generator("pona", architecture)
    save(tmp_path / "generator.pt", generator_payload("pona", architecture, untrained, 0, {}))
    result = evaluate(root, tmp_path / "generator.pt", tmp_path / "quality", count=200, seed=0,
                      reid_model=tmp_path / "reid")
    identity = result["identity"]
    assert identity["target"]["pairs"] == identity["generated"]["pairs"] > 150
    assert identity["target"]["rank1"] > 3 * identity["generated"]["rank1"] + 5, identity
    assert identity["copy"]["rank1"] > 3 * identity["generated"]["rank1"] + 5, identity
    assert identity["generated"]["rank1"] < 5  # chance is about 1% (100 test identities)
    table = quality_table({"pona": result})
    assert f"| real target image (upper bound) | {result['pairs']} | – | – | – | {result['pckh']['target']['pckh']:.3f} | " \
           f"{identity['target']['rank1']:.1f} | {identity['target']['mAP']:.1f} |" in table
    assert identity_summary({"pona": result})[0].startswith(f"pona: identity rank-1 {identity['generated']['rank1']:.1f}")
