"""Re-ID baselines with torchreid: a Market-layout folder as a torchreid data set (`data`), the engine
(`engine`), the training budget (`budget`), one run (`train`), and the identity score of generated images
(`identity`). `python -m augreid.reid` trains one baseline."""
from augreid.reid.engine import build_engine, evaluate_engine, load_imagenet_weights
from augreid.reid.train import train_reid

__all__ = ["build_engine", "evaluate_engine", "load_imagenet_weights", "train_reid"]
