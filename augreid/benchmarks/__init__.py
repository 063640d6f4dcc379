"""Speed benchmarks behind bench/RESULTS.md (`python -m augreid.bench`): generators, re-ID training, the pose
estimator, and the A/A calibration of verdicts."""
