"""Prefect orchestration of augreid's steps; the library itself never imports Prefect."""
