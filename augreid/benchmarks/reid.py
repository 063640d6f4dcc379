"""Re-ID training speed: images/s of a torchreid model by memory layout, threads, and runs side by side."""
from __future__ import annotations

import time

import torch

from augreid.core.device import device_name


def reid_images_per_second(model_name: str, size: tuple[int, int], batch: int, threads: int, channels_last: bool,
                           device: torch.device, min_seconds: float) -> float:
    """Training throughput (forward, backward, Adam step) of a torchreid softmax model on random images."""
    from augreid.core.compat import import_torchreid

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = import_torchreid().reid.models.build_model(model_name, num_classes=100, loss="softmax",
                                                       pretrained=False).to(device).train()
    images = torch.randn(batch, 3, *size, device=device)
    labels = torch.randint(0, 100, (batch,), device=device)
    if channels_last:
        model, images = model.to(memory_format=torch.channels_last), images.contiguous(memory_format=torch.channels_last)
    optimiser = torch.optim.Adam(model.parameters(), 3e-3)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def step() -> None:
        output = model(images)  # BoT's training forward gives (logits, triplet feature): its ID loss stands for all
        loss = torch.nn.functional.cross_entropy(output[0] if isinstance(output, tuple) else output, labels)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()

    for _ in range(3):
        step()
    sync()
    runs, started = 0, time.perf_counter()
    while runs < 5 or time.perf_counter() - started < min_seconds:
        step()
        runs += 1
    sync()
    return runs * batch / (time.perf_counter() - started)


def _reid_worker(arguments: tuple) -> float:
    return reid_images_per_second(*arguments)


def bench_reid(model_name: str, size: tuple[int, int], batch: int, device: torch.device, min_seconds: float,
               concurrent: int) -> dict:
    import multiprocessing

    from augreid.core.threads import usable_cpus

    settings = [(threads, layout) for threads in sorted({1, usable_cpus()}) for layout in (False, True)]
    rows = [{"runs": 1, "threads": threads, "channels_last": layout,
             "images_per_second": round(reid_images_per_second(model_name, size, batch, threads, layout, device,
                                                               min_seconds), 1)} for threads, layout in settings]
    if concurrent > 1 and device.type == "cpu":
        with multiprocessing.get_context("spawn").Pool(concurrent) as pool:
            each = pool.map(_reid_worker, [(model_name, size, batch, 1, True, device, min_seconds)] * concurrent)
        rows.append({"runs": concurrent, "threads": 1, "channels_last": True,
                     "images_per_second": round(sum(each), 1)})
    return {"device": device_name(device), "torch": torch.__version__, "model": model_name, "size": list(size),
            "batch": batch, "rows": rows}


def print_reid_table(result: dict) -> None:
    height, width = result["size"]
    print(f"re-ID training, {result['model']} at {height}x{width}, batch {result['batch']}, on {result['device']} "
          f"(torch {result['torch']})")
    print(f"{'runs':>4s} {'threads':>7s} {'layout':>14s} {'images/s (all runs)':>20s}")
    for row in result["rows"]:
        layout = "channels_last" if row["channels_last"] else "contiguous"
        print(f"{row['runs']:4d} {row['threads']:7d} {layout:>14s} {row['images_per_second']:20.1f}")
