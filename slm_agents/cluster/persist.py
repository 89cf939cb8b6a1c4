"""Saving and loading a fitted :class:`~slm_agents.cluster.TaskClusterer`, without pickle.

A saved clusterer is a directory:

- ``config.json``: the parameters that are JSON values, the embedder as a spec
  (``{"kind": "minilm", "path": null, ...}``, ``{"kind": "hashing", "n_features": 1024, ...}``, or
  ``{"kind": "custom", ...}`` for one that must be passed again to ``load``), the feature space's
  weights and vocabularies, the selection record, task names, keywords and representatives;
- ``arrays.npz``: the fitted labels, the neighbour index (training rows, labels, radii), the
  embeddings of the fitted texts (so that predictions on them are bit-identical after loading),
  and the 2-D layout when it was computed. Read back with ``allow_pickle=False``.

The reducer and clusterer stages are not saved: assigning calls needs neither.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ModelLoadError
from .assign import NeighbourIndex
from .embedders import EmbeddingCache, embedder_from_spec, embedder_spec
from .features import FeatureSpace

if TYPE_CHECKING:  # pragma: no cover
    from .clusterer import TaskClusterer

__all__ = ["load_clusterer", "save_clusterer"]

FORMAT = "slm_agents.TaskClusterer"
FORMAT_VERSION = 1
_STAGE_PARAMS = ("embedder", "reducer", "clusterer", "namer")


def _jsonable(value: Any) -> Any:
    """``value`` with numpy scalars and arrays turned into plain JSON values."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # numpy scalar or array
        return value.tolist()
    return value


def save_clusterer(clf: TaskClusterer, path: Path) -> Path:
    """Write ``clf`` to the directory ``path`` (created if needed); returns ``path``."""
    import numpy as np

    path.mkdir(parents=True, exist_ok=True)
    params: dict[str, Any] = {}
    unsaved: list[str] = []
    for name, value in clf.get_params(deep=False).items():
        if name in _STAGE_PARAMS:
            if value is not None and name != "embedder":
                unsaved.append(name)
            continue
        if name == "cache_dir" and value is not None:
            value = str(value)
        try:
            json.dumps(value)
        except TypeError:
            unsaved.append(name)
            continue
        params[name] = value
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "params": params,
        "unsaved_params": unsaved,
        "embedder": embedder_spec(clf.embedder_),
        "embedder_given": clf.embedder is not None,
        "feature_space": clf.feature_space_.to_dict(),
        "selection": _jsonable(clf.selection_),
        "task_names": {str(k): v for k, v in clf.task_names_.items()},
        "keywords": {str(k): v for k, v in clf.keywords_.items()},
        "representatives": {str(k): v for k, v in clf.representatives_.items()},
        "n_tasks": clf.n_tasks_,
    }
    (path / "config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False),
                                      encoding="utf-8")
    arrays: dict[str, Any] = dict(clf._index.to_arrays())
    arrays["labels"] = clf.labels_
    arrays["fit_inverse"] = clf._fit_inverse
    known = clf._cache.known(clf._fit_digests)
    if known:
        arrays["cache_digests"] = np.array(list(known), dtype="S32")
        arrays["cache_vectors"] = np.stack(list(known.values()))
    if clf._embedding_2d is not None:
        arrays["embedding_2d"] = clf._embedding_2d
    np.savez_compressed(path / "arrays.npz", **arrays)
    return path


def load_clusterer(cls: type[TaskClusterer], path: Path, embedder: Any = None,
                   **params: Any) -> TaskClusterer:
    """Read a clusterer written by :func:`save_clusterer`.

    Raises:
        ModelLoadError: no saved clusterer at ``path``, or one in another format.
        ConfigError: it was fitted with a custom embedder and none is given.
    """
    import numpy as np

    config_file = path / "config.json"
    if not config_file.is_file() or not (path / "arrays.npz").is_file():
        raise ModelLoadError(f"no saved TaskClusterer in {path} (expected config.json and "
                             "arrays.npz)")
    config = json.loads(config_file.read_text(encoding="utf-8"))
    if config.get("format") != FORMAT or config.get("format_version") != FORMAT_VERSION:
        raise ModelLoadError(f"{path} holds {config.get('format')!r} version "
                             f"{config.get('format_version')!r}, not {FORMAT} {FORMAT_VERSION}")
    spec = config["embedder"]
    if embedder is None:
        embedder = embedder_from_spec(spec)
    init = dict(config["params"])
    # Saved before these options existed: fitted with their behaviour of the time.
    init.setdefault("mask_content", False)
    init.setdefault("split_by_context", False)
    if config.get("embedder_given"):
        init["embedder"] = embedder
    init.update(params)
    clf = cls(**init)
    clf.embedder_ = embedder
    clf.reducer_ = params.get("reducer")
    clf.clusterer_ = params.get("clusterer")
    clf.feature_space_ = FeatureSpace.from_dict(config["feature_space"])
    clf.selection_ = config["selection"]
    clf.task_names_ = {int(k): v for k, v in config["task_names"].items()}
    clf.keywords_ = {int(k): list(v) for k, v in config["keywords"].items()}
    clf.representatives_ = {int(k): list(v) for k, v in config["representatives"].items()}
    clf.n_tasks_ = int(config["n_tasks"])
    with np.load(path / "arrays.npz", allow_pickle=False) as arrays:
        clf._index = NeighbourIndex.from_arrays(arrays)
        clf.labels_ = arrays["labels"]
        clf._fit_inverse = arrays["fit_inverse"]
        clf._embedding_2d = arrays["embedding_2d"] if "embedding_2d" in arrays else None
        cache = EmbeddingCache(embedder, clf.cache_dir, show_progress=False)
        cache.dim = clf.feature_space_.text_dim or None
        digests: list[str] = []
        if "cache_vectors" in arrays:
            digests = [d.decode("ascii") for d in arrays["cache_digests"]]
            cache.preload(digests, arrays["cache_vectors"])
    clf._cache = cache
    clf._fit_digests = digests
    clf._fit_items = None
    clf._reduced = None
    return clf
