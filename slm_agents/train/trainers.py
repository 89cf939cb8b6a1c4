"""TRL's ``SFTTrainer`` with a loss that projects only the answer's positions onto the vocabulary.

Our rows carry labels on the final assistant turn only, and in agent calls the prompt (system
prompt, tool schemas, history) is most of the tokens: on SmolLM2 with two tools, ~85%. TRL's
fused loss scores every position on the CPU (it compacts to the labelled ones only with Triton),
so :class:`AnswerLossTrainer` runs the backbone, then the output head on the labelled positions
alone: the same loss, ~25% less compute per step on the CPU, and no ``(batch, length, vocab)``
logits tensor in memory. :class:`TokenDistillationTrainer` adds the KL term to a frozen teacher
(see :mod:`slm_agents.train.distill`). Batching, packing, checkpoints, evaluation and early
stopping stay TRL's and transformers'.

Examples:
    >>> answer_trainer, distillation_trainer = trainer_classes()  # doctest: +SKIP
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from .distill import distillation_loss
from .models import require

__all__ = ["answer_positions", "trainer_classes"]


def answer_positions(model: Any, inputs: dict[str, Any]) -> tuple[Any, Any]:
    """Hidden states at the positions whose next token is labelled, and those labels.

    Runs the model's backbone (through any peft wrapper, so adapters apply) without the output
    head, with ``use_cache=False`` so that packed rows get block-diagonal attention.
    """
    causal = model.get_base_model() if hasattr(model, "get_base_model") else model
    backbone = causal.base_model  # PreTrainedModel's backbone (``model`` for Llama and kin)
    labels = inputs["labels"]
    kwargs = {k: v for k, v in inputs.items() if k in ("input_ids", "attention_mask",
                                                        "position_ids", "inputs_embeds")}
    hidden = backbone(**kwargs, use_cache=False).last_hidden_state
    targets = labels[:, 1:]
    mask = targets != -100
    return hidden[:, :-1][mask], targets[mask]


@lru_cache(maxsize=1)
def trainer_classes() -> tuple[type, type]:
    """``(AnswerLossTrainer, TokenDistillationTrainer)``, built on first use (imports TRL)."""
    torch = require("torch")
    trl = require("trl")

    class AnswerLossTrainer(trl.SFTTrainer):  # type: ignore[name-defined,misc]
        """``SFTTrainer`` whose loss projects only the labelled positions onto the vocabulary."""

        def _head(self, model: Any) -> Any:
            causal = model.get_base_model() if hasattr(model, "get_base_model") else model
            return causal.get_output_embeddings()

        def _log_accuracy(self, logits: Any, targets: Any) -> None:
            metrics = getattr(self, "_metrics", None)
            if metrics is None or targets.numel() == 0:
                return
            mode = "train" if self.model.training else "eval"
            with torch.no_grad():
                accuracy = (logits.argmax(-1) == targets).float().mean().item()
            metrics[mode]["mean_token_accuracy"].append(accuracy)

        def _loss(self, model: Any, hidden: Any, targets: Any, inputs: dict[str, Any],
                  normaliser: Any) -> Any:
            logits = self._head(model)(hidden).float()
            self._log_accuracy(logits, targets)
            loss = torch.nn.functional.cross_entropy(logits, targets, reduction="sum")
            return loss / normaliser

        def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                         num_items_in_batch: Any = None) -> Any:
            hidden, targets = answer_positions(model, inputs)
            # A token average over the whole accumulated batch when the trainer counted it,
            # as transformers' own losses do.
            normaliser = (num_items_in_batch if num_items_in_batch is not None
                          else max(int(targets.numel()), 1))
            loss = self._loss(model, hidden, targets, inputs, normaliser)
            if return_outputs:
                return loss, {"loss": loss}
            return loss

    class TokenDistillationTrainer(AnswerLossTrainer):
        """Adds ``(1 - alpha) * T^2 * KL`` to a frozen teacher's distribution on the answer."""

        def __init__(self, *args: Any, teacher_model: Any, alpha: float, temperature: float,
                     **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.teacher_model = teacher_model.eval()
            for parameter in self.teacher_model.parameters():
                parameter.requires_grad_(False)
            self.distill_alpha = alpha
            self.distill_temperature = temperature

        def _loss(self, model: Any, hidden: Any, targets: Any, inputs: dict[str, Any],
                  normaliser: Any) -> Any:
            logits = self._head(model)(hidden)
            self._log_accuracy(logits, targets)
            with torch.no_grad():
                teacher_hidden, _ = answer_positions(self.teacher_model, inputs)
                teacher_logits = self._head(self.teacher_model)(teacher_hidden)
            return distillation_loss(logits, teacher_logits, targets, alpha=self.distill_alpha,
                                     temperature=self.distill_temperature, normaliser=normaliser)

    return AnswerLossTrainer, TokenDistillationTrainer
