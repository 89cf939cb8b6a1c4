"""Names for tasks: class-based TF-IDF keywords, the dominant output, and an optional hook.

Keywords are BERTopic's c-TF-IDF: all the texts of a task form one document, a word's frequency in
it is weighted by ``log(1 + A / f)`` (``A`` the average number of words per task, ``f`` the word's
frequency over all tasks), so words common to every task sink and words typical of one rise.

A task's default name is its dominant tool (or, for text outputs, its agent) followed by its top
three keywords: ``"search_flights: flight, fare, route"``. A ``namer`` callable (for example an LLM
prompt) receives a :class:`TaskSummaryInput` and returns a better name; when it fails, the default
name stays and a warning is logged.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .features import CallView

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = ["TaskSummaryInput", "class_tfidf_keywords", "default_name", "name_tasks"]

logger = logging.getLogger("slm_agents.cluster")

# Words of at least two characters starting with a letter: numbers and ids say nothing of a task.
_TOKEN_PATTERN = r"(?u)\b[^\W\d_][^\W_]+\b"


@dataclass(frozen=True)
class TaskSummaryInput:
    """What a ``namer`` gets to know about one task.

    Attributes:
        task_id: The task's label.
        size: Number of calls.
        keywords: c-TF-IDF keywords, best first.
        examples: Texts of the most central calls.
        output_kinds: Output kind -> calls (``"tool:<name>"``, ``"text"``, ``"error"``).
        agents: Agent name -> calls.
        default_name: The name given without a namer.
    """

    task_id: int
    size: int
    keywords: list[str]
    examples: list[str]
    output_kinds: dict[str, int] = field(default_factory=dict)
    agents: dict[str, int] = field(default_factory=dict)
    default_name: str = ""


def class_tfidf_keywords(texts: Sequence[str], labels: np.ndarray,
                         top_n: int = 10) -> dict[int, list[str]]:
    """The ``top_n`` c-TF-IDF keywords of each task (label ``-1`` takes part but gets none).

    Examples:
        >>> import numpy as np
        >>> texts = ["book a flight", "flight to Rome", "weather in Rome", "rain and weather"]
        >>> class_tfidf_keywords(texts, np.array([0, 0, 1, 1]), top_n=1)
        {0: ['flight'], 1: ['weather']}
    """
    import numpy as np
    from sklearn.feature_extraction.text import CountVectorizer

    tasks = sorted(int(t) for t in set(labels.tolist()) if t >= 0)
    if not tasks:
        return {}
    vectorizer = CountVectorizer(stop_words="english", token_pattern=_TOKEN_PATTERN)
    try:
        counts = vectorizer.fit_transform(texts)
    except ValueError:  # nothing but stop words and numbers
        return {t: [] for t in tasks}
    classes = sorted(set(labels.tolist()))
    from scipy.sparse import csr_matrix

    # One row per class: the summed counts of its texts.
    row_of = {c: i for i, c in enumerate(classes)}
    membership = csr_matrix((np.ones(len(labels)), ([row_of[int(c)] for c in labels],
                                                    np.arange(len(labels)))),
                            shape=(len(classes), len(labels)))
    tf = np.asarray((membership @ counts).todense(), dtype=np.float64)
    words_per_class = tf.sum(axis=1, keepdims=True)
    frequency = tf.sum(axis=0)
    average = float(words_per_class.mean()) or 1.0
    idf = np.log(1.0 + average / np.maximum(frequency, 1.0))
    scores = tf / np.maximum(words_per_class, 1.0) * idf
    vocabulary = vectorizer.get_feature_names_out()
    out: dict[int, list[str]] = {}
    for task in tasks:
        row = scores[row_of[task]]
        best = np.argsort(-row, kind="stable")[:top_n]
        out[task] = [str(vocabulary[j]) for j in best if row[j] > 0]
    return out


def default_name(task_id: int, keywords: Sequence[str], output_kinds: Mapping[str, int],
                 agents: Mapping[str, int]) -> str:
    """``"<dominant tool or agent>: <top 3 keywords>"``, or ``"task <id>"`` with nothing to say."""
    head = ""
    if output_kinds:
        kind = max(output_kinds.items(), key=lambda kv: (kv[1], kv[0]))[0]
        if kind.startswith("tool:"):
            head = kind[len("tool:"):]
    if not head and agents:
        agent = max(agents.items(), key=lambda kv: (kv[1], kv[0]))[0]
        head = agent
    words = ", ".join(keywords[:3])
    if head and words:
        return f"{head}: {words}"
    return head or words or f"task {task_id}"


def name_tasks(views: Sequence[CallView], labels: np.ndarray,
               keywords: Mapping[int, list[str]], representatives: Mapping[int, list[int]],
               namer: Callable[[TaskSummaryInput], str] | None = None) -> dict[int, str]:
    """A distinct name for every task, from the namer when given (else :func:`default_name`)."""
    import numpy as np

    names: dict[int, str] = {}
    for task in sorted(keywords):
        members = np.flatnonzero(labels == task).tolist()
        outputs = Counter(views[i].output for i in members if views[i].output)
        agents = Counter(views[i].agent for i in members if views[i].agent)
        name = default_name(task, keywords[task], outputs, agents)
        if namer is not None:
            summary = TaskSummaryInput(
                task_id=task, size=len(members), keywords=list(keywords[task]),
                examples=[views[i].text for i in representatives.get(task, [])],
                output_kinds=dict(outputs), agents=dict(agents), default_name=name)
            try:
                proposed = namer(summary)
            except Exception as exc:  # a user's hook (maybe an LLM call) must not lose the fit
                logger.warning("namer failed for task %d (%s); keeping %r", task, exc, name)
            else:
                if isinstance(proposed, str) and proposed.strip():
                    name = proposed.strip()
                else:
                    logger.warning("namer returned %r for task %d; keeping %r", proposed, task,
                                   name)
        names[task] = name
    # Two tasks may look alike on their top words: the label keeps their names apart.
    counts = Counter(names.values())
    return {t: (f"{n} ({t})" if counts[n] > 1 else n) for t, n in names.items()}
