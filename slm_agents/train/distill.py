"""Token-level distillation: the student matches a local teacher's next-token distribution.

Sequence-level distillation (the default) needs nothing here: the logged final assistant turn
*is* the LLM's output, so supervised fine-tuning on it distils the LLM. When a local teacher
model sharing the student's tokenizer is given, the trainer
(:mod:`slm_agents.train.trainers`) uses this loss over the answer's tokens::

    alpha * CE(student, logged tokens)
      + (1 - alpha) * T^2 * KL(softmax(teacher / T) || softmax(student / T))

(Hinton et al.'s soft-target loss; the ``T^2`` keeps gradient scales comparable across
temperatures.) Only the loss changes: batching, packing, checkpoints and early stopping are
TRL's.

Examples:
    >>> import torch
    >>> s = torch.zeros(3, 5); t = torch.zeros(3, 5); y = torch.tensor([0, 1, 2])
    >>> round(float(distillation_loss(s, t, y, alpha=0.0, temperature=2.0)), 6)
    0.0
"""

from __future__ import annotations

from typing import Any

from .models import require

__all__ = ["distillation_loss"]


def distillation_loss(student: Any, teacher: Any, targets: Any, *, alpha: float,
                      temperature: float, normaliser: Any = None) -> Any:
    """The distillation loss over answer positions.

    Args:
        student: Student logits, ``(n, vocab)`` (answer positions only).
        teacher: Teacher logits, ``(n, vocab_t)``; the shared first ``min(vocab)`` entries are
            compared (padded embedding rows beyond the tokenizer's vocabulary are ignored).
        targets: The logged next tokens, ``(n,)``.
        alpha: Weight of the cross-entropy; ``1 - alpha`` weighs the KL term.
        temperature: Softmax temperature ``T`` of the KL term.
        normaliser: Divide the summed loss by this (tokens in the whole accumulated batch);
            default: ``n``.
    """
    torch = require("torch", "distillation")
    functional = torch.nn.functional
    vocab = min(student.shape[-1], teacher.shape[-1])
    student = student.float()
    ce = functional.cross_entropy(student, targets, reduction="sum")
    kl = functional.kl_div(
        functional.log_softmax(student[:, :vocab] / temperature, dim=-1),
        functional.log_softmax(teacher[:, :vocab].float() / temperature, dim=-1),
        log_target=True, reduction="sum") * temperature ** 2
    count = normaliser if normaliser is not None else max(int(targets.numel()), 1)
    return (alpha * ce + (1.0 - alpha) * kl) / count
