"""Detection on several cores: worker processes, each with its own copy of the scrubber's engine.

spaCy's own ``n_process`` parallelises NER only; the recognisers (regular expressions,
``phonenumbers``) then run in one process and take as long again. Here a batch of texts is cut
into parts of about equal length: the calling process analyses one part, each worker another.
Workers are started with ``spawn`` (safe next to the Recorder's writer thread), load the NLP
model once, and stay up for the scrubber's lifetime.

A spawned worker imports the user's main script again (as ``__mp_main__``), running its top level
except what sits under ``if __name__ == "__main__":``. :func:`spawn_is_safe` checks, before any
worker starts, that this re-import cannot re-run the caller's work: the main module is not a file
(a notebook, the REPL, ``python -c``), or the call comes from under that guard.
"""

from __future__ import annotations

import ast
import functools
import logging
import multiprocessing
import os
import pickle
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from .spans import Span

__all__ = ["WorkerPool", "auto_processes", "spawn_is_safe", "split_balanced"]

logger = logging.getLogger("slm_agents.curate")

_Item = tuple[str, tuple[str, ...]]
_worker: Any = None  # the scrubber copy inside a worker process
_told_one_process = False


def _init_worker(state: bytes) -> None:
    global _worker
    _worker = pickle.loads(state)
    _worker.n_process = 1


def _detect(items: list[_Item]) -> list[list[Span]]:
    result: list[list[Span]] = _worker._detect_local(items)
    return result


def usable_cores() -> int:
    """CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def auto_processes(limit: int = 2) -> int:
    """Processes for ``n_process="auto"``: up to ``limit`` cores, and 1 where spawning workers
    is not safe (see :func:`spawn_is_safe`)."""
    global _told_one_process
    wanted = min(limit, usable_cores())
    if wanted > 1 and not spawn_is_safe():
        if not _told_one_process:
            _told_one_process = True
            logger.info("PIIScrubber: scrubbing in one process; put the call under "
                        "`if __name__ == \"__main__\":` or pass n_process=2 to use worker "
                        "processes")
        return 1
    return wanted


def spawn_is_safe() -> bool:
    """Whether spawned workers can import the main module without re-running the caller's work.

    True when the main module is not a file, or when this call comes (through any depth of
    function calls) from code under the main script's ``if __name__ == "__main__":`` block.
    False otherwise, including calls from other threads once the script's top level has run.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if not path:
        return True
    frame = sys._getframe()
    while frame is not None:
        if frame.f_code.co_name == "<module>" and frame.f_globals.get("__name__") == "__main__":
            return _under_main_guard(os.path.abspath(frame.f_code.co_filename), frame.f_lineno)
        frame = frame.f_back  # type: ignore[assignment]
    return False


@functools.lru_cache(maxsize=16)
def _main_guard_lines(path: str) -> tuple[tuple[int, int], ...]:
    try:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
    except (OSError, SyntaxError, ValueError):
        return ()
    found = []
    for node in tree.body:
        if isinstance(node, ast.If) and _is_main_test(node.test) and node.body:
            found.append((node.body[0].lineno, node.body[-1].end_lineno or node.lineno))
    return tuple(found)


def _is_main_test(test: ast.expr) -> bool:
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1
            and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
    values = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__"]
    return bool(names and values)


def _under_main_guard(path: str, line: int) -> bool:
    return any(first <= line <= last for first, last in _main_guard_lines(path))


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
