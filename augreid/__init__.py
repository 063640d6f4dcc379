"""augreid: pose-transfer data augmentation for person re-identification (PoNA paper, Table VI)."""

__version__ = "0.1.0"
