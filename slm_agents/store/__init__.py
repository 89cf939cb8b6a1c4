"""S1 storage: the embedded, encrypted, role-keyed store (one SQLite file).

Examples:
    >>> from slm_agents.store import generate_key
    >>> generate_key().startswith("slm-admin-1-")
    True
"""

from __future__ import annotations

from .audit import AuditEntry
from .keys import generate_key
from .maintenance import IntegrityReport
from .sqlite_store import Store

__all__ = ["AuditEntry", "IntegrityReport", "Store", "generate_key"]
