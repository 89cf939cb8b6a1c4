"""scikit-learn's parameter protocol for our estimators, without importing scikit-learn.

Shared by every class whose ``__init__`` only stores its arguments (``Curator``, ``PIIScrubber``,
and the later steps' estimators), so ``sklearn.base.clone`` and grid search work on them.
"""

from __future__ import annotations

import inspect
from collections import defaultdict
from typing import Any

from .errors import ConfigError

__all__ = ["ParamsMixin"]


class ParamsMixin:
    """scikit-learn's ``get_params``/``set_params`` for classes whose ``__init__`` only stores.

    Every keyword of ``__init__`` must be stored under the same attribute name. No scikit-learn
    import is needed, and ``sklearn.base.clone`` works on the result.
    """

    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return sorted(name for name, p in signature.parameters.items()
                      if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL))

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments (with ``deep``, also ``name__sub`` for nested estimators)."""
        params: dict[str, Any] = {}
        for name in self._param_names():
            value = getattr(self, name)
            params[name] = value
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                params.update((f"{name}__{k}", v) for k, v in value.get_params().items())
        return params

    def set_params(self, **params: Any) -> Any:
        """Set constructor arguments (``name__sub`` reaches into a nested estimator); returns self.

        Raises:
            ConfigError: an unknown parameter name (the message lists the valid ones).
        """
        valid = self._param_names()
        nested: dict[str, dict[str, Any]] = defaultdict(dict)
        for key, value in params.items():
            name, _, sub = key.partition("__")
            if name not in valid:
                raise ConfigError(f"{type(self).__name__} has no parameter {name!r}; valid "
                                  f"parameters are: {', '.join(valid)}")
            if sub:
                nested[name][sub] = value
            else:
                setattr(self, name, value)
        for name, sub_params in nested.items():
            getattr(self, name).set_params(**sub_params)
        return self

    def __repr__(self) -> str:
        defaults = inspect.signature(type(self).__init__).parameters
        changed = [f"{n}={v!r}" for n, v in self.get_params(deep=False).items()
                   if repr(v) != repr(defaults[n].default)]
        return f"{type(self).__name__}({', '.join(changed)})"
