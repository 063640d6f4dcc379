"""torchreid's pieces for one baseline: data manager, model (ImageNet weights from a file), optimiser,
scheduler and engine (softmax, or BoT's with its metric losses), and the features that rank query against
gallery."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from augreid.config import LabelPolicy, ReidConfig, parse_label_policy
from augreid.core.compat import TORCHREID_DATASET, import_torchreid, import_torchvision, register_dataset
from augreid.core.device import mixed_precision, weights_cache_dir
from augreid.core.errors import InputError
from augreid.metrics.reid import QueryResults, rank_queries, summarise
from augreid.reid.bot import CENTER_LR, CenterLoss, register_bot, warmup_multistep
from augreid.reid.bot import NAME as BOT
from augreid.reid.bot import NEW_LAYERS as BOT_NEW_LAYERS
from augreid.reid.data import IMAGENET_MEAN, IMAGENET_STD, MarketLayoutDataset, added_flags
from augreid.reid.ide import IMAGENET_BACKBONE, NEW_LAYERS, describe, register_ide
from augreid.reid.ide import NAME as IDE
from augreid.reid.labels import soft_cross_entropy, soft_targets

torchreid = import_torchreid()


class SoftmaxEngine(torchreid.reid.engine.ImageSoftmaxEngine):
    """torchreid's softmax engine with bf16 autocast on a GPU (its own has no mixed precision), and the label
    policy (`reid/labels.py`) for the training images named in `generated`."""

    def __init__(self, *args, mixed_precision: bool = False, label_policy: LabelPolicy = LabelPolicy(),
                 generated: frozenset[str] = frozenset(), **kwargs):
        super().__init__(*args, **kwargs)
        self.mixed_precision = mixed_precision and self.use_gpu
        self.device = torch.device("cuda" if self.use_gpu else "cpu")
        self.label_policy, self.generated = label_policy, generated

    def generated_flags(self, data) -> torch.Tensor:
        """Which of the batch's images are generated (bool, on the engine's device)."""
        return added_flags(data["impath"], self.generated).to(self.device)

    def identity_loss(self, logits: torch.Tensor, pids: torch.Tensor, data) -> torch.Tensor:
        """The ID loss: torchreid's criterion under `hard` (today's, bit for bit), else the cross-entropy with
        each image's soft targets."""
        if self.label_policy.kind == "hard":
            return self.compute_loss(self.criterion, logits, pids)
        targets = soft_targets(pids, self.generated_flags(data), logits.shape[1], self.label_policy, self.criterion.eps)
        return soft_cross_entropy(logits, targets)

    def training_batch(self, data) -> tuple[torch.Tensor, torch.Tensor]:
        """A batch's images (channels_last) and pids, on the engine's device."""
        images, pids = self.parse_data_for_train(data)
        if self.use_gpu:
            images, pids = images.cuda(non_blocking=True), pids.cuda(non_blocking=True)
        return images.contiguous(memory_format=torch.channels_last), pids

    def forward_backward(self, data):
        images, pids = self.training_batch(data)
        with mixed_precision(self.device, self.mixed_precision):
            outputs = self.model(images)
        loss = self.identity_loss(outputs.float(), pids, data)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.item(), "acc": torchreid.reid.metrics.accuracy(outputs.float(), pids)[0].item()}


class BoTEngine(SoftmaxEngine):
    """BoT's iteration (`reid/bot.py`): the ID loss on the logits, plus the triplet and center losses on the pooled
    feature; the centres take their own SGD step, their gradient undone of the loss weight."""

    def __init__(self, *args, triplet_margin: float, center_weight: float, num_classes: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.triplet = torchreid.reid.losses.TripletLoss(margin=triplet_margin) if triplet_margin > 0 else None
        self.center_weight = center_weight
        self.center = CenterLoss(num_classes).to(self.device) if center_weight > 0 else None
        self.center_optimizer = torch.optim.SGD(self.center.parameters(), lr=CENTER_LR) if self.center else None

    def losses(self, images: torch.Tensor, pids: torch.Tensor, data) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Each term of the loss (weighted) on a batch, and the identity logits. Under `lsro` generated images are
        outliers of no identity: they take no part in the triplet and center losses."""
        with mixed_precision(self.device, self.mixed_precision):
            logits, pooled = self.model(images)
        logits, pooled = logits.float(), pooled.float()
        terms = {"id": self.identity_loss(logits, pids, data)}
        if self.label_policy.kind == "lsro":
            real = ~self.generated_flags(data)
            pooled, pids = pooled[real], pids[real]
        if len(pids) == 0:
            return terms, logits
        if self.triplet is not None:
            terms["triplet"] = self.triplet(pooled, pids)
        if self.center is not None:
            terms["center"] = self.center_weight * self.center(pooled, pids)
        return terms, logits

    def forward_backward(self, data):
        images, pids = self.training_batch(data)
        terms, logits = self.losses(images, pids, data)
        loss = sum(terms.values())
        self.optimizer.zero_grad()
        if self.center is not None:
            self.center_optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        if self.center is not None:
            self.center.centers.grad.mul_(1.0 / self.center_weight)  # the centres learn at CENTER_LR, unweighted
            self.center_optimizer.step()
        return {"loss": loss.item(), "acc": torchreid.reid.metrics.accuracy(logits, pids)[0].item(),
                **{name: term.item() for name, term in terms.items()}}


def bot_train_transform(config: ReidConfig):
    """BoT's training transform: resize, flip, pad and random crop, ImageNet normalisation, random erasing (filled
    with the ImageNet mean)."""
    T = import_torchvision().transforms
    steps = [T.Resize((config.height, config.width))]
    if config.random_flip:
        steps.append(T.RandomHorizontalFlip())
    if config.pad:
        steps += [T.Pad(config.pad), T.RandomCrop((config.height, config.width))]
    steps += [T.ToTensor(), T.Normalize(mean=IMAGENET_MEAN, std=IMAGENET_STD)]
    if config.random_erase:
        steps.append(torchreid.reid.data.transforms.RandomErasing(probability=config.random_erase,
                                                                 mean=list(IMAGENET_MEAN)))
    return T.Compose(steps)


def imagenet_weights_path(model: str, weights: str | Path | None, backbone: str = "imagenet") -> Path:
    """The file torchreid looks for ($TORCH_HOME/hub/checkpoints/<name from its URL>), or --weights."""
    if weights:
        return Path(weights)
    if backbone == "synthetic":
        raise InputError("reid.backbone: synthetic needs its weights: pass --weights DIR/backbone.pt (written by "
                         "python -m augreid.reid.pretrain --config FILE --out DIR)")
    urls = getattr(torchreid.reid.models.resnet, "model_urls", {})
    model = IMAGENET_BACKBONE if model in (IDE, BOT) else model
    if model not in urls:
        raise InputError(f"reid.pretrained: no default ImageNet weights file for '{model}'; pass --weights PATH "
                         "or set reid.pretrained: false")
    return weights_cache_dir() / urls[model].rsplit("/", 1)[1]


def check_model(name: str) -> None:
    """`reid.model` names one of torchreid's models (or augreid's IDE and BoT, registered with it)."""
    register_ide()
    register_bot()
    known = torchreid.reid.models.__model_factory
    if name not in known:
        raise InputError(f"reid.model: torchreid has no model '{name}' (e.g. {', '.join(sorted(known)[:6])}, ...)")


def initial_weights_file(name: str, weights: str | Path | None, backbone: str = "imagenet") -> Path:
    """The pretrained weights' file, which must exist (checked before any training)."""
    path = imagenet_weights_path(name, weights, backbone)
    if not path.is_file():
        raise InputError(f"pretrained weights for {name} not found at {path} (no download on this machine): put the "
                         "file there, pass --weights PATH, or set reid.pretrained: false in the config")
    return path


def load_imagenet_weights(model: torch.nn.Module, name: str, weights: str | Path | None,
                          backbone: str = "imagenet") -> int:
    """Copy every pretrained tensor whose name and shape fit (the classifier does not); returns how many."""
    path = initial_weights_file(name, weights, backbone)
    try:
        pretrained = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise InputError(f"{path}: not a state dict of ImageNet weights ({type(err).__name__})") from None
    own = model.state_dict()
    fitting = {k: v for k, v in pretrained.items() if k in own and own[k].shape == v.shape}
    if not fitting:
        raise InputError(f"{path}: no tensor fits {name}; is it the right model's file?")
    model.load_state_dict({**own, **fitting})
    return len(fitting)


@torch.no_grad()
def extract_features(engine: SoftmaxEngine, loader, flip: bool = False,
                     normalize: bool = False) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    engine.model.eval()
    features, pids, camids = [], [], []
    for data in loader:
        images, batch_pids, batch_camids = engine.parse_data_for_eval(data)
        if engine.use_gpu:
            images = images.cuda(non_blocking=True)
        images = images.contiguous(memory_format=torch.channels_last)
        with mixed_precision(engine.device, engine.mixed_precision):
            features.append(describe(engine.model, images, flip, normalize).cpu())
        pids.append(batch_pids.numpy())
        camids.append(batch_camids.numpy())
    return torch.cat(features), np.concatenate(pids), np.concatenate(camids)


def rank_query_set(engine: SoftmaxEngine, manager, flip: bool = False, normalize: bool = False) -> QueryResults:
    """Rank each query (in the data set's query order) against the gallery with the engine's model."""
    query = extract_features(engine, manager.test_loader[TORCHREID_DATASET]["query"], flip, normalize)
    gallery = extract_features(engine, manager.test_loader[TORCHREID_DATASET]["gallery"], flip, normalize)
    distances = torchreid.reid.metrics.compute_distance_matrix(query[0], gallery[0], metric="euclidean").numpy()
    return rank_queries(distances, query[1], gallery[1], query[2], gallery[2])


def evaluate_engine(engine: SoftmaxEngine, manager, max_rank: int = 50) -> tuple[np.ndarray, float, int]:
    """(CMC, mAP, valid queries) of the engine's model on the data set's query and gallery."""
    results = rank_query_set(engine, manager)
    return summarise(results, min(max_rank, len(manager.test_loader[TORCHREID_DATASET]["gallery"].dataset)))


def build_engine(data_root: Path, config: ReidConfig, device: torch.device, weights: str | Path | None = None,
                 generated: frozenset[str] = frozenset()) -> tuple[SoftmaxEngine, object]:
    """torchreid's data manager, model, optimiser, scheduler and softmax engine for a Market-layout folder;
    `generated` names the training images the label policy treats as generated."""
    use_gpu = device.type == "cuda"
    register_dataset(MarketLayoutDataset)
    register_ide()
    register_bot()
    manager = torchreid.reid.data.ImageDataManager(
        root=str(data_root), sources=TORCHREID_DATASET, targets=TORCHREID_DATASET, height=config.height,
        width=config.width, transforms=["random_flip"] if config.random_flip else [],
        batch_size_train=config.batch_size, batch_size_test=config.test_batch_size, workers=config.workers,
        use_gpu=use_gpu, train_sampler="RandomIdentitySampler" if config.instances else "RandomSampler",
        num_instances=config.instances or 4)
    if config.pad or config.random_erase:
        manager.train_loader.dataset.transform = bot_train_transform(config)
    model = torchreid.reid.models.build_model(config.model, num_classes=manager.num_train_pids, loss="softmax",
                                              pretrained=False, use_gpu=use_gpu)
    if config.pretrained:
        load_imagenet_weights(model, config.model, weights, config.backbone)
    # channels_last on the CPU too: OSNet-x0.25 at 64x32 trains 1.32 times faster with it at one thread, 1.06 at two (bench/RESULTS.md, 2026-11-30)
    model = model.to(device).to(memory_format=torch.channels_last)
    optimiser = torchreid.reid.optim.build_optimizer(
        model, optim=config.optimizer, lr=config.lr, weight_decay=config.weight_decay, momentum=config.momentum,
        sgd_nesterov=config.nesterov, staged_lr=config.base_lr_mult < 1,
        new_layers=list(BOT_NEW_LAYERS if config.model == BOT else NEW_LAYERS), base_lr_mult=config.base_lr_mult)
    for group in optimiser.param_groups:  # one kernel per step for all tensors (torch's default on a GPU only):
        group["foreach"] = True  # 1.2x faster for OSNet-x0.25 on a CPU core, and far less time under Python's lock
    if config.warmup_epochs or config.milestones:
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda epoch: warmup_multistep(
            epoch, config.warmup_epochs, config.milestones))
    elif config.schedule == "cosine":
        scheduler = torchreid.reid.optim.build_lr_scheduler(optimiser, lr_scheduler="cosine", max_epoch=config.epochs)
    else:
        scheduler = torchreid.reid.optim.build_lr_scheduler(optimiser, lr_scheduler="single_step",
                                                            stepsize=config.stepsize)
    options = dict(scheduler=scheduler, use_gpu=use_gpu, label_smooth=config.label_smooth,
                   mixed_precision=config.mixed_precision, label_policy=parse_label_policy(config.generated_labels),
                   generated=generated)
    if config.model == BOT:
        engine = BoTEngine(manager, model, optimiser, triplet_margin=config.triplet_margin,
                           center_weight=config.center_weight, num_classes=manager.num_train_pids, **options)
    else:
        engine = SoftmaxEngine(manager, model, optimiser, **options)
    return engine, manager
