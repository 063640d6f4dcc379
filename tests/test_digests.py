"""Digests that name cached work: the same weights saved twice are one generator (torch writes a random id into
every archive, so the files' bytes differ), and a changed weight is another."""
import torch

from augreid.core.atomic import file_sha256
from augreid.core.tensors_file import tensors_digest
from augreid.study.cells import finished_generator


def saved(path, state):
    torch.save(state, path)
    return path


def test_two_saves_of_the_same_weights_have_one_digest_and_a_changed_weight_another(tmp_path):
    torch.manual_seed(0)
    state = {"format": "augreid-generator/1", "step": 3, "architecture": {"ngf": 8, "blocks": (1, 2)},
             "state_dict": {"conv.weight": torch.randn(4, 3, 3, 3), "bn.num_batches_tracked": torch.tensor(7),
                            "half": torch.randn(2, 2).to(torch.bfloat16)}}
    first, second = saved(tmp_path / "a.pt", state), saved(tmp_path / "b.pt", state)
    assert file_sha256(first) != file_sha256(second)  # what the flow keyed on before
    assert tensors_digest(first) == tensors_digest(second)
    changed = {**state, "state_dict": {**state["state_dict"], "conv.weight": state["state_dict"]["conv.weight"] + 1e-6}}
    assert tensors_digest(saved(tmp_path / "c.pt", changed)) != tensors_digest(first)
    retyped = {**state, "state_dict": {**state["state_dict"], "half": state["state_dict"]["half"].float()}}
    assert tensors_digest(saved(tmp_path / "d.pt", retyped)) != tensors_digest(first)
    reshaped = {**state, "architecture": {"ngf": 8, "blocks": (2, 1)}}
    assert tensors_digest(saved(tmp_path / "e.pt", reshaped)) != tensors_digest(first)


def test_a_retrained_identical_generator_meets_its_cached_sets(tmp_path):
    state = {"w": torch.arange(6.0).reshape(2, 3)}
    for run in ("first", "second"):
        (tmp_path / run).mkdir()
        saved(tmp_path / run / "generator.pt", state)
    assert finished_generator(tmp_path / "first")["sha256"] == finished_generator(tmp_path / "second")["sha256"]
