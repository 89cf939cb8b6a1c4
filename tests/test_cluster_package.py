"""The cluster package's surface: light to import, every public name reachable, sorted."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import slm_agents.cluster as cluster

HEAVY = ["numpy", "sklearn", "scipy", "torch", "umap", "hdbscan", "sentence_transformers",
         "pandas", "matplotlib"]


def test_importing_the_package_and_its_estimator_loads_no_heavy_module() -> None:
    code = ("import sys, json, slm_agents.cluster as c; c.TaskClusterer; c.HashingEmbedder; "
            "c.MiniLMEmbedder; c.NoReduction; c.PCAReducer; c.AutoHDBSCAN; "
            "c.SilhouetteAgglomerative; "
            f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_every_public_name_is_reachable_and_all_is_sorted() -> None:
    assert cluster.__all__ == sorted(cluster.__all__)
    for name in cluster.__all__:
        assert getattr(cluster, name) is not None, name
    with pytest.raises(AttributeError, match="NoSuchThing"):
        cluster.NoSuchThing  # noqa: B018
