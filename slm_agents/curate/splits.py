"""Dealing examples out by task: sampling to a target size, and train/validation/test splits.

**Sampling** (:func:`sample_by_task`) gives every task an equal share of the target (a task with
fewer examples keeps all of them and its unused share goes to the others), or a share in proportion
to its size; within a task, a seeded random sample.

**Splits** (:func:`split_indices`): a *group* is every example of one trace (an example without a
trace id is a group of its own), so no conversation is split across train and test. Each group is
filed under one task — the task of most of its examples (ties go to the alphabetically first
task) — and within each task the groups are shuffled with the seed and dealt out one by one to the
split furthest below its target count (``fraction * examples of the task``, rounded half up).
Fractions therefore hold per task up to the size of one group, and the assignment depends only on
the examples and the seed.

Examples:
    >>> train, val, test = split_indices(["a", "b", "c", "d"], ["t"] * 4, 0.25, 0.25, seed=0)
    >>> sorted(train + val + test), len(val), len(test)
    ([0, 1, 2, 3], 1, 1)
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import Counter, defaultdict
from collections.abc import Sequence

from ..errors import ConfigError

__all__ = ["SPLIT_NAMES", "check_fractions", "sample_by_task", "split_indices"]

SPLIT_NAMES = ("train", "validation", "test")


def check_fractions(validation: float, test: float) -> None:
    """Raise :class:`ConfigError` unless ``0 <= validation, test`` and ``validation + test < 1``."""
    for name, value in (("validation", validation), ("test", test)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise ConfigError(f"{name} must be a fraction in [0, 1); got {value!r}")
    if validation + test >= 1:
        raise ConfigError(
            f"validation + test must be below 1 so that something is left to train on; "
            f"got {validation} + {test}")


def _round(value: float) -> int:
    # Half up, not Python's half to even: 0.5 of an example should not round to 0.
    return math.floor(value + 0.5)


def _rng(seed: int, task: str, purpose: str = "split") -> random.Random:
    # A per-task stream: adding a task elsewhere does not reshuffle this one.
    digest = hashlib.sha256(f"{purpose}\x00{seed}\x00{task}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _balanced_quotas(sizes: dict[str, int], target: int) -> dict[str, int]:
    """Equal shares, smallest task first; what a small task cannot use goes to the larger ones.

    With ``target`` below the total, the shares add up to exactly ``target``.
    """
    quotas: dict[str, int] = {}
    remaining = target
    order = sorted(sizes, key=lambda t: (sizes[t], t))
    for position, task in enumerate(order):
        quotas[task] = min(sizes[task], remaining // (len(order) - position))
        remaining -= quotas[task]
    return quotas


def _proportional_quotas(sizes: dict[str, int], target: int) -> dict[str, int]:
    """Shares in proportion to task size (the largest remainders round up)."""
    total = sum(sizes.values())
    exact = {t: target * n / total for t, n in sizes.items()}
    quotas = {t: int(v) for t, v in exact.items()}
    leftover = target - sum(quotas.values())
    for task in sorted(sizes, key=lambda t: (-(exact[t] - quotas[t]), t))[:leftover]:
        quotas[task] += 1
    return quotas


def sample_by_task(indices: Sequence[int], tasks: Sequence[str], target: int | None,
                   balance: bool = True, seed: int = 0) -> list[int]:
    """At most ``target`` of ``indices``, sampled per task (all of them when ``target`` is None
    or not below their number).

    Args:
        indices: Candidate example indices.
        tasks: Task label per example (indexed by the values in ``indices``).
        target: How many to keep.
        balance: Equal shares per task (else shares in proportion to task size).
        seed: Seed of the per-task random samples.

    Returns:
        The chosen indices (grouped by task, in no particular order within a task).

    Examples:
        >>> chosen = sample_by_task(range(8), ["a"] * 6 + ["b"] * 2, target=4)
        >>> sorted(tasks for tasks in ("a" if i < 6 else "b" for i in chosen))
        ['a', 'a', 'b', 'b']
    """
    if target is None or len(indices) <= target:
        return list(indices)
    by_task: dict[str, list[int]] = defaultdict(list)
    for index in sorted(indices):
        by_task[tasks[index]].append(index)
    sizes = {task: len(members) for task, members in by_task.items()}
    quotas = (_balanced_quotas if balance else _proportional_quotas)(sizes, target)
    chosen: list[int] = []
    for task in sorted(by_task):
        chosen.extend(_rng(seed, task, "sample").sample(by_task[task], quotas[task]))
    return chosen


def split_indices(groups: Sequence[str], tasks: Sequence[str], validation: float = 0.1,
                  test: float = 0.1, seed: int = 0) -> tuple[list[int], list[int], list[int]]:
    """Indices of the train, validation and test examples (each list in ascending order).

    Args:
        groups: Group key per example (examples with equal keys stay together).
        tasks: Task label per example.
        validation: Fraction of each task's examples for validation.
        test: Fraction of each task's examples for test.
        seed: Seed of the shuffle.
    """
    check_fractions(validation, test)
    if len(groups) != len(tasks):
        raise ValueError("groups and tasks must have the same length")
    members: dict[str, list[int]] = defaultdict(list)
    for index, group in enumerate(groups):
        members[group].append(index)
    by_task: dict[str, list[str]] = defaultdict(list)
    for group in sorted(members):
        counts = Counter(tasks[i] for i in members[group])
        task = min(counts, key=lambda t: (-counts[t], t))
        by_task[task].append(group)

    out: tuple[list[int], list[int], list[int]] = ([], [], [])
    fractions = (1.0 - validation - test, validation, test)
    for task in sorted(by_task):
        task_groups = by_task[task]
        total = sum(len(members[g]) for g in task_groups)
        targets = [0, _round(validation * total), _round(test * total)]
        targets[0] = total - targets[1] - targets[2]
        open_splits = [s for s in range(3) if targets[s] > 0 or (s == 0 and fractions[0] > 0)]
        filled = [0, 0, 0]
        _rng(seed, task).shuffle(task_groups)
        for group in task_groups:
            # Furthest below target; ties go to train, then validation, then test.
            split = max(open_splits, key=lambda s: (targets[s] - filled[s], -s))
            filled[split] += len(members[group])
            out[split].extend(members[group])
    for indices in out:
        indices.sort()
    return out
