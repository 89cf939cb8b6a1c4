"""The exceptions ``slm_agents`` raises, in one tree.

Every error the library raises on purpose derives from :class:`SLMAgentsError`, and also from the
built-in exception that existing ``except`` clauses would expect (scikit-learn's
``NotFittedError(ValueError, AttributeError)`` is the model)::

    SLMAgentsError
    ├── ConfigError(ValueError)               an option or argument is invalid
    ├── MissingDependencyError(ImportError)   an optional extra is not installed
    ├── InvalidRecordError(ValueError)        a record cannot be built or parsed
    ├── CaptureError                          capture could not be set up (never raised from hooks)
    ├── ScrubError                            a text or record could not be scrubbed
    ├── CurationError(ValueError)             the data cannot make a dataset (empty, nothing left)
    ├── NotFittedError(ValueError, AttributeError)  an estimator was used before ``fit``
    ├── ClusteringError(ValueError)           the items cannot be clustered (empty, unusable)
    ├── TrainingError                         fine-tuning could not run or finish
    ├── ModelLoadError(OSError)               a model or adapter cannot be found or loaded
    ├── RoutingError                          a call could be served by no route (not even the LLM)
    └── StoreError
        ├── StoreNotFoundError(FileNotFoundError)  no store there, and the key cannot create one
        ├── InvalidKeyError(ValueError)       the key text is malformed
        ├── WrongKeyError(PermissionError)    a well-formed key that does not belong to this store
        ├── PermissionDeniedError(PermissionError)  the key's role may not do that
        ├── CorruptStoreError                 the file is truncated, not SQLite, or not a store
        ├── TamperedRecordError               a row failed authentication (reported, then skipped)
        └── StoreClosedError(RuntimeError)    the store was closed

Hooks that capture an agent's calls never raise any of these into the host application: they log
and count instead (see :class:`slm_agents.Recorder`).
"""

from __future__ import annotations

__all__ = [
    "CaptureError",
    "ClusteringError",
    "ConfigError",
    "CorruptStoreError",
    "CurationError",
    "InvalidKeyError",
    "InvalidRecordError",
    "MissingDependencyError",
    "ModelLoadError",
    "NotFittedError",
    "PermissionDeniedError",
    "RoutingError",
    "SLMAgentsError",
    "ScrubError",
    "StoreClosedError",
    "StoreError",
    "StoreNotFoundError",
    "TamperedRecordError",
    "TrainingError",
    "WrongKeyError",
]


class SLMAgentsError(Exception):
    """Base class of every error ``slm_agents`` raises on purpose."""


class ConfigError(SLMAgentsError, ValueError):
    """An option or argument is invalid; the message lists the valid values."""


class MissingDependencyError(SLMAgentsError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""

    def __init__(self, package: str, extra: str, feature: str = "") -> None:
        what = f" for {feature}" if feature else ""
        super().__init__(
            f"{package!r} is needed{what} but is not installed. "
            f"Install it with: pip install 'slm-agents[{extra}]'"
        )
        self.package = package
        self.extra = extra


class InvalidRecordError(SLMAgentsError, ValueError):
    """A record cannot be built from, or parsed back into, a :class:`slm_agents.CallRecord`."""


class CaptureError(SLMAgentsError):
    """Capture could not be set up (bad options). Never raised from inside a running hook."""


class ScrubError(SLMAgentsError):
    """A text or record could not be scrubbed; callers drop it with a reason, never keep it raw."""


class CurationError(SLMAgentsError, ValueError):
    """The records cannot make a dataset (none given, or none left after filtering)."""


class NotFittedError(SLMAgentsError, ValueError, AttributeError):
    """An estimator (``TaskClusterer``, ``FineTuner``...) was used before ``fit``."""


class ClusteringError(SLMAgentsError, ValueError):
    """The items cannot be clustered (no items, only empty texts, a stage that failed)."""


class TrainingError(SLMAgentsError):
    """Fine-tuning could not run or finish (no usable examples, a failed step)."""


class ModelLoadError(SLMAgentsError, OSError):
    """A base model, adapter or saved specialist cannot be found or loaded."""


class RoutingError(SLMAgentsError):
    """No route could serve a call, not even the fallback LLM (its own error is chained)."""


class StoreError(SLMAgentsError):
    """Base class of the store's errors."""


class StoreNotFoundError(StoreError, FileNotFoundError):
    """No store at the path, and the key cannot create one (only an admin key can)."""


class InvalidKeyError(StoreError, ValueError):
    """The key text is malformed (not made by :func:`slm_agents.generate_key` or ``issue_key``)."""


class WrongKeyError(StoreError, PermissionError):
    """A well-formed key that does not belong to this store (or was retired by a key rotation)."""


class PermissionDeniedError(StoreError, PermissionError):
    """The key's role may not perform this operation (e.g. a writer key reading records)."""


class CorruptStoreError(StoreError):
    """The file is truncated, is not an SQLite database, or is not an ``slm_agents`` store."""


class TamperedRecordError(StoreError):
    """A stored row failed authenticated decryption: it was modified, truncated or moved.

    Reads report such rows (``Store.integrity_errors``, a warning in the log) and skip them; the
    other rows stay readable.
    """

    def __init__(self, record_id: str, reason: str = "authentication failed") -> None:
        super().__init__(f"record {record_id!r} failed its integrity check: {reason}")
        self.record_id = record_id
        self.reason = reason


class StoreClosedError(StoreError, RuntimeError):
    """The store was closed; open a new :class:`slm_agents.Store`."""
