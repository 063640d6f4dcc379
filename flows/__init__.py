"""Prefect orchestration of augreid's steps; the library itself never imports Prefect."""
from augreid.core.threads import wait_passively

# before any flow module loads torch; the spawned workers inherit it with the environment
wait_passively()
