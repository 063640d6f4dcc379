import pytest
import torch

from augreid.core.errors import InputError, one_line


class Unreadable(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 2

    def __getitem__(self, index: int):
        raise InputError("/data/0002_c1s1_000451_03.jpg: cannot read image (image file is truncated)")


def test_an_error_in_a_dataloader_worker_comes_out_as_its_one_line():
    """torch re-raises a worker's error with the worker's traceback as its message; the CLI prints the original."""
    with pytest.raises(InputError) as caught:
        list(torch.utils.data.DataLoader(Unreadable(), num_workers=1))
    assert str(caught.value).count("\n") > 3
    assert one_line(caught.value) == "/data/0002_c1s1_000451_03.jpg: cannot read image (image file is truncated)"
    assert one_line(InputError("plain: one line")) == "plain: one line"
