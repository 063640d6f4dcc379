"""The embedded default data set: a synthetic Market-1501 stand-in where pose transfer matters.

People are drawn from their 18 keypoints; identity lives only in appearance (clothing colours and patterns,
hair, bag, build); poses vary within an identity (walking phase, front / back / side views, scale, position);
6 cameras differ in background and lighting; some joints are missing (-1) as in the real annotation files.
"""
from augreid.data.synthetic.dataset import build_synthetic_market, plan_dataset, render

__all__ = ["build_synthetic_market", "plan_dataset", "render"]
