"""Detection on several cores: worker processes, each with its own copy of the scrubber's engine.

spaCy's own ``n_process`` parallelises NER only; the recognisers (regular expressions,
``phonenumbers``) then run in one process and take as long again. Here a batch of texts is cut
into parts of about equal length: the calling process analyses one part, each worker another.
Workers are started with ``spawn`` (safe next to the Recorder's writer thread), load the NLP
model once, and stay up for the scrubber's lifetime.
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from .spans import Span

__all__ = ["WorkerPool", "split_balanced"]

logger = logging.getLogger("slm_agents.curate")

_Item = tuple[str, tuple[str, ...]]
_worker: Any = None  # the scrubber copy inside a worker process


def _init_worker(state: bytes) -> None:
    global _worker
    _worker = pickle.loads(state)
    _worker.n_process = 1


def _detect(items: list[_Item]) -> list[list[Span]]:
    result: list[list[Span]] = _worker._detect_local(items)
    return result


def split_balanced(items: Sequence[_Item], parts: int) -> list[list[int]]:
    """Indices of ``items`` in ``parts`` groups of about equal total text length."""
    groups: list[list[int]] = [[] for _ in range(parts)]
    loads = [0] * parts
    for index in sorted(range(len(items)), key=lambda i: -len(items[i][0])):
        lightest = loads.index(min(loads))
        groups[lightest].append(index)
        loads[lightest] += len(items[index][0]) + 64  # + a fixed cost per text
    return groups


class WorkerPool:
    """``n_process - 1`` worker processes plus the caller, detecting spans in parallel.

    Args:
        state: The pickled scrubber (its parameters; no engine, no cache).
        n_process: Processes in all, the caller included.
    """

    def __init__(self, state: bytes, n_process: int) -> None:
        self.n_process = n_process
        self._executor = ProcessPoolExecutor(
            max_workers=n_process - 1, mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker, initargs=(state,))

    def detect(self, items: Sequence[_Item],
               local: Callable[[list[_Item]], list[list[Span]]]) -> list[list[Span]]:
        groups = split_balanced(items, self.n_process)
        futures = [self._executor.submit(_detect, [items[i] for i in group])
                   for group in groups[1:]]
        results: list[list[Span]] = [[] for _ in items]
        for index, spans in zip(groups[0], local([items[i] for i in groups[0]]), strict=True):
            results[index] = spans
        for group, future in zip(groups[1:], futures, strict=True):
            for index, spans in zip(group, future.result(), strict=True):
                results[index] = spans
        return results

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
