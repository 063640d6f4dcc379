"""augreid: pose-transfer data augmentation for person re-identification (PoNA paper, Table VI)."""
from augreid.core.threads import wait_passively

# every entry point (a step, the flows, their spawned workers) passes here before torch loads libgomp
wait_passively()

__version__ = "0.1.0"
