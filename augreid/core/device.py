"""Where computation runs: the device choice, bf16 autocast on a GPU, and torch's folder of downloaded weights."""
from __future__ import annotations

import contextlib
import platform
from pathlib import Path

import torch

from augreid.core.errors import InputError


def pick_device(requested: str = "auto") -> torch.device:
    """`auto`: the GPU when there is one, else the CPU."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA device is available")
    return torch.device(requested)


def mixed_precision(device: torch.device, enabled: bool = True) -> contextlib.AbstractContextManager:
    """bf16 autocast on a GPU (no loss scaling needed, unlike fp16); full precision on the CPU."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def weights_cache_dir() -> Path:
    """Where torchvision and torchreid look for downloaded weights: $TORCH_HOME/hub/checkpoints."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU model: what a benchmark ran on."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        model = platform.processor() or platform.machine()
    return f"cpu ({model})"
