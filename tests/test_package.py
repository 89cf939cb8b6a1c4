"""The package surface: light import, every public name reachable, sorted __all__."""

from __future__ import annotations

import json
import subprocess
import sys

import slm_agents
import slm_agents.errors as errors

HEAVY = ["torch", "sklearn", "presidio_analyzer", "langchain_core", "llama_index", "transformers",
         "numpy", "spacy", "datasketch", "datasets", "tldextract", "pandas", "peft", "trl",
         "umap", "hdbscan", "sentence_transformers", "matplotlib", "bitsandbytes"]


def test_import_slm_agents_and_its_public_classes_load_no_heavy_module() -> None:
    code = ("import sys, json, slm_agents; slm_agents.Store; slm_agents.Recorder; "
            "slm_agents.CallRecord; slm_agents.PIIScrubber; slm_agents.Curator; "
            "slm_agents.Dataset; slm_agents.TaskClusterer; slm_agents.ClusterReport; "
            "slm_agents.ModelCatalog; slm_agents.FineTuner; slm_agents.Specialist; "
            "slm_agents.evaluate; slm_agents.Router; slm_agents.Flywheel; "
            "slm_agents.ModelRegistry; slm_agents.replacement_report; "
            f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_every_public_name_is_reachable() -> None:
    for name in slm_agents.__all__:
        assert getattr(slm_agents, name) is not None, name


def test_all_is_sorted_and_unknown_names_raise_attribute_error() -> None:
    assert slm_agents.__all__ == sorted(slm_agents.__all__)
    assert errors.__all__ == sorted(errors.__all__)
    try:
        slm_agents.NoSuchThing  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected AttributeError")


def test_every_error_derives_from_the_base_and_the_expected_builtin() -> None:
    assert issubclass(errors.WrongKeyError, errors.StoreError)
    assert issubclass(errors.WrongKeyError, PermissionError)
    assert issubclass(errors.ConfigError, ValueError)
    assert issubclass(errors.MissingDependencyError, ImportError)
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.SLMAgentsError)
    message = str(errors.MissingDependencyError("langchain_core", "langchain", "capture"))
    assert "pip install 'slm-agents[langchain]'" in message
