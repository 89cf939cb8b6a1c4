"""The settings of a fine-tuning run: LoRA, 4-bit quantisation and the trainer.

Field names mirror ``peft.LoraConfig``, ``transformers.BitsAndBytesConfig`` and
``transformers.TrainingArguments`` / ``trl.SFTConfig`` so that users recognise them. Each settings
object validates when it is created (a typo in a field name is an error), and saves and loads
itself as JSON.

Examples:
    >>> s = LoraSettings(r=8, target_modules=["q_proj", "v_proj"])
    >>> LoraSettings.from_dict(s.to_dict()) == s
    True
    >>> TrainingSettings(learning_rate=0).learning_rate
    Traceback (most recent call last):
    ...
    slm_agents.errors.ConfigError: TrainingSettings: learning_rate: Input should be greater than 0
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import ConfigError

__all__ = ["LoraSettings", "QuantizationSettings", "TrainingSettings"]


class _Settings(BaseModel):
    """Validation on creation, JSON round trips, errors as :class:`ConfigError`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise ConfigError(_describe(type(self).__name__, exc)) from None

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-compatible dict."""
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Any:
        """Settings from :meth:`to_dict` output (unknown keys are an error)."""
        return cls(**data)

    def save(self, path: str | Path) -> Path:
        """Write the settings as a JSON file; returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> Any:
        """Read settings written by :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def _describe(name: str, exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return f"{name}: " + "; ".join(parts)


class LoraSettings(_Settings):
    """LoRA / DoRA adapter settings (the fields of ``peft.LoraConfig``).

    Attributes:
        r: Rank of the update matrices.
        lora_alpha: Scaling numerator (the update is scaled by ``lora_alpha / r``); defaults to
            ``2 * r``, a common choice for small models.
        lora_dropout: Dropout on the adapter's input.
        target_modules: Module names to adapt, or ``"all-linear"`` (every linear layer but the
            output head), the QLoRA paper's recommendation.
        use_dora: Weight-decomposed LoRA (DoRA). ``FineTuner(method="dora")`` sets it.
        bias: Which biases to train: ``"none"``, ``"all"`` or ``"lora_only"``.
        modules_to_save: Extra modules trained in full and saved with the adapter.
        layers_to_transform: Adapt only these layer indices (``None``: all). Adapting only the
            upper half skips the backward pass through the lower half: ~1.5x faster steps on
            the CPU, usually at little cost for a narrow task.

    Examples:
        >>> LoraSettings(r=4).to_peft().r
        4
    """

    r: int = Field(16, gt=0)
    lora_alpha: int | None = Field(None, gt=0)
    lora_dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: list[str] | str = "all-linear"
    use_dora: bool = False
    bias: Literal["none", "all", "lora_only"] = "none"
    modules_to_save: list[str] | None = None
    layers_to_transform: list[int] | None = None

    @model_validator(mode="after")
    def _defaults(self) -> LoraSettings:
        if self.lora_alpha is None:
            object.__setattr__(self, "lora_alpha", 2 * self.r)
        if isinstance(self.target_modules, list) and not self.target_modules:
            raise ValueError("target_modules is empty: name modules or use 'all-linear'")
        if self.layers_to_transform is not None and (
                not self.layers_to_transform or min(self.layers_to_transform) < 0):
            raise ValueError("layers_to_transform must list layer indices (0 or more)")
        return self

    def to_peft(self, use_dora: bool | None = None, model: Any = None) -> Any:
        """The equivalent ``peft.LoraConfig`` for a causal language model.

        ``model`` resolves ``"all-linear"`` into module names when ``layers_to_transform`` is
        set (peft needs names then).
        """
        from .models import require

        peft = require("peft", "LoRA adapters")
        target_modules: list[str] | str = self.target_modules
        if self.layers_to_transform is not None and target_modules == "all-linear":
            if model is None:
                raise ValueError("layers_to_transform with target_modules='all-linear' needs "
                                 "the model to find its linear layers")
            target_modules = _linear_layer_names(model)
        return peft.LoraConfig(
            r=self.r, lora_alpha=self.lora_alpha, lora_dropout=self.lora_dropout,
            target_modules=target_modules, bias=self.bias,
            use_dora=self.use_dora if use_dora is None else use_dora,
            modules_to_save=self.modules_to_save, layers_to_transform=self.layers_to_transform,
            task_type="CAUSAL_LM")


def _linear_layer_names(model: Any) -> list[str]:
    """Names of the linear layers but the output head (what peft's "all-linear" adapts)."""
    from .models import require

    torch = require("torch")
    linear: tuple[type, ...] = (torch.nn.Linear,)
    try:
        import bitsandbytes as bnb

        linear = (*linear, bnb.nn.Linear4bit, bnb.nn.Linear8bitLt)
    except ImportError:
        pass
    output = model.get_output_embeddings()
    names = sorted({name.rsplit(".", 1)[-1] for name, module in model.named_modules()
                    if isinstance(module, linear) and module is not output})
    if not names:
        raise ValueError("no linear layers found: list target_modules explicitly")
    return names


class QuantizationSettings(_Settings):
    """bitsandbytes 4-bit quantisation of the frozen base model, for QLoRA.

    Attributes:
        load_in_4bit: Quantise the base model's linear layers to 4 bits (the only mode QLoRA
            uses; kept so the field names match ``BitsAndBytesConfig``).
        bnb_4bit_quant_type: ``"nf4"`` (NormalFloat, QLoRA's choice) or ``"fp4"``.
        bnb_4bit_use_double_quant: Quantise the quantisation constants too (saves ~0.4 bit per
            parameter).
        bnb_4bit_compute_dtype: Dtype of the matmuls: ``"auto"`` is bfloat16 on CUDA and float32
            on the CPU (bitsandbytes' CPU kernels accept bfloat16 too, but float32 is as fast there
            and avoids rounding the LoRA path).

    Examples:
        >>> QuantizationSettings().bnb_4bit_quant_type
        'nf4'
    """

    load_in_4bit: bool = True
    bnb_4bit_quant_type: Literal["nf4", "fp4"] = "nf4"
    bnb_4bit_use_double_quant: bool = True
    bnb_4bit_compute_dtype: Literal["auto", "bfloat16", "float16", "float32"] = "auto"

    @model_validator(mode="after")
    def _four_bit(self) -> QuantizationSettings:
        if not self.load_in_4bit:
            raise ValueError("load_in_4bit must be True: QLoRA quantises the base model to 4 "
                             "bits (use method='lora' for an unquantised base)")
        return self

    def compute_dtype(self, device: str) -> str:
        """The compute dtype name for ``device`` (resolving ``"auto"``)."""
        if self.bnb_4bit_compute_dtype != "auto":
            return self.bnb_4bit_compute_dtype
        return "bfloat16" if device.startswith("cuda") else "float32"

    def to_bnb(self, device: str) -> Any:
        """The equivalent ``transformers.BitsAndBytesConfig`` for ``device``."""
        from .models import require

        require("bitsandbytes", "4-bit quantisation (QLoRA)")
        torch = require("torch", "4-bit quantisation (QLoRA)")
        transformers = require("transformers", "4-bit quantisation (QLoRA)")
        return transformers.BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type=self.bnb_4bit_quant_type,
            bnb_4bit_use_double_quant=self.bnb_4bit_use_double_quant,
            bnb_4bit_compute_dtype=getattr(torch, self.compute_dtype(device)))


class TrainingSettings(_Settings):
    """Trainer settings (the fields of ``transformers.TrainingArguments`` / ``trl.SFTConfig``).

    Attributes:
        num_train_epochs: Passes over the training set.
        max_steps: Stop after this many optimiser steps (``-1``: run ``num_train_epochs``).
        per_device_train_batch_size: Examples per step (before accumulation).
        per_device_eval_batch_size: Examples per evaluation batch.
        gradient_accumulation_steps: Steps whose gradients add up before each update.
        learning_rate: Peak learning rate (``2e-4`` suits LoRA; use ~``1e-5`` for ``full``).
        lr_scheduler_type: ``"linear"``, ``"cosine"``, ``"constant"``...
        warmup_ratio: Fraction of the steps spent warming the learning rate up.
        weight_decay: AdamW weight decay.
        max_grad_norm: Gradient clipping.
        max_length: Longest example in tokens (prompt with tools + answer); longer ones are
            dropped with a warning, never truncated (a cut answer teaches the wrong thing).
        packing: Padding-free packing: each batch's examples are concatenated into one sequence
            whose position ids restart at every example, so attention and loss never cross
            examples (transformers builds block-diagonal masks from the position ids). Saves the
            compute spent on padding when lengths vary.
        gradient_checkpointing: Recompute activations in the backward pass (less memory, ~30%
            slower).
        early_stopping_patience: With a validation set, stop after this many evaluations without
            a lower validation loss (the best checkpoint is restored). ``None``: never stop early.
        save_steps: Checkpoint (and evaluate, with a validation set) every this many steps;
            ``None``: once per epoch.
        save_total_limit: Checkpoints kept in ``output_dir`` (the best one is always kept).
        logging_steps: Log the training loss every this many steps.
        resume: Resume from the last checkpoint in ``output_dir`` when one exists.
        progress: Show transformers' progress bar.
        distill_alpha: Token-level distillation: weight of the cross-entropy on the logged
            answer; ``1 - distill_alpha`` weighs the KL divergence to the teacher.
        distill_temperature: Softmax temperature of the distillation KL.

    Examples:
        >>> TrainingSettings(max_steps=10).max_steps
        10
    """

    num_train_epochs: float = Field(1.0, gt=0)
    max_steps: int = Field(-1, ge=-1)
    per_device_train_batch_size: int = Field(8, gt=0)
    per_device_eval_batch_size: int = Field(8, gt=0)
    gradient_accumulation_steps: int = Field(1, gt=0)
    learning_rate: float = Field(2e-4, gt=0)
    lr_scheduler_type: str = "linear"
    warmup_ratio: float = Field(0.0, ge=0.0, lt=1.0)
    weight_decay: float = Field(0.0, ge=0.0)
    max_grad_norm: float = Field(1.0, gt=0)
    max_length: int = Field(1024, gt=8)
    packing: bool = False
    gradient_checkpointing: bool = False
    early_stopping_patience: int | None = Field(None, gt=0)
    save_steps: int | None = Field(None, gt=0)
    save_total_limit: int | None = Field(2, gt=0)
    logging_steps: int = Field(10, gt=0)
    resume: bool = True
    progress: bool = True
    distill_alpha: float = Field(0.5, ge=0.0, le=1.0)
    distill_temperature: float = Field(2.0, gt=0.0)

    @model_validator(mode="after")
    def _consistent(self) -> TrainingSettings:
        if self.max_steps == 0:
            raise ValueError("max_steps must be positive, or -1 to train num_train_epochs")
        if self.lr_scheduler_type not in _SCHEDULERS:
            raise ValueError(f"lr_scheduler_type {self.lr_scheduler_type!r} is not one of: "
                             f"{', '.join(sorted(_SCHEDULERS))}")
        return self


_SCHEDULERS = {"linear", "cosine", "cosine_with_restarts", "polynomial", "constant",
               "constant_with_warmup", "inverse_sqrt", "cosine_with_min_lr", "warmup_stable_decay"}
