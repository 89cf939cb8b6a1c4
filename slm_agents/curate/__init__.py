"""Step S2, curation: scrub private data offline, filter, de-duplicate, sample, split, export.

- :class:`PIIScrubber`: Presidio + spaCy (offline) with recognisers for secrets and PHI, consistent
  format-preserving pseudonyms, structure-aware scrubbing of tool arguments and results.
- :class:`Curator`: logged calls → :class:`Dataset` of chat fine-tuning examples with tools, plus a
  :class:`CurationReport` of what was dropped and why.

Heavy dependencies (presidio, spaCy, datasketch, datasets) load on first use, not on import.
"""

from __future__ import annotations

from .curator import Curator
from .dataset import Dataset, DatasetSplits
from .report import CurationReport
from .scrubber import PIIScrubber
from .spans import Span

__all__ = ["CurationReport", "Curator", "Dataset", "DatasetSplits", "PIIScrubber", "Span"]
