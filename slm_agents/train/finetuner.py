"""Fine-tune a small model on a task's logged calls: LoRA, QLoRA, DoRA or full, with TRL.

:class:`FineTuner` follows scikit-learn's estimator contract: ``__init__`` only stores its
arguments, :meth:`FineTuner.fit` does the work and leaves what it learned in ``_``-suffixed
attributes. Training runs through TRL's ``SFTTrainer`` (on top of ``transformers.Trainer``) on
examples that :mod:`slm_agents.train.data` has already rendered with the base model's chat
template and labelled (loss on the final assistant turn only); TRL brings padding-free packing,
checkpoints, resumption, evaluation and early stopping.

Examples:
    >>> tuner = FineTuner("smollm2-135m", method="lora",
    ...                   training=TrainingSettings(num_train_epochs=2))  # doctest: +SKIP
    >>> specialist = tuner.fit(splits)                                     # doctest: +SKIP
    >>> specialist.generate(messages, tools=tools).tool_calls             # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .._params import ParamsMixin
from ..errors import ConfigError, TrainingError
from .config import LoraSettings, QuantizationSettings, TrainingSettings
from .data import ChatRenderer, as_examples, encode_examples, validate_examples
from .models import (
    BaseModelSpec,
    load_model,
    load_tokenizer,
    require,
    resolve_base_model,
    resolve_device,
)
from .specialist import Specialist

__all__ = ["METHODS", "FineTuner"]

logger = logging.getLogger("slm_agents")

METHODS = ("lora", "qlora", "dora", "full")
DISTILLATION = ("auto", "sequence", "token")
RUN_FILE = "slm_agents_run.json"


def _settings(value: Any, cls: type, name: str) -> Any:
    if value is None:
        return cls()
    if isinstance(value, cls):
        return value
    if isinstance(value, dict):
        return cls(**value)
    raise ConfigError(f"{name} must be a {cls.__name__}, a dict of its fields or None, "
                      f"not {type(value).__name__}")


class FineTuner(ParamsMixin):
    """Fine-tunes a base model on chat examples and returns a :class:`Specialist`.

    Args:
        base_model: Alias (``"smollm2-135m"``, the offline default), hub id or local path.
        method: ``"lora"``, ``"qlora"`` (4-bit nf4 base, double quantisation), ``"dora"``
            (weight-decomposed LoRA) or ``"full"`` (every weight; use a ~10x lower learning
            rate).
        lora: Adapter settings (ignored by ``"full"``).
        quantization: 4-bit settings for ``"qlora"`` (defaults to nf4 + double quantisation).
        training: Trainer settings.
        distillation: ``"sequence"``: learn the LLM's logged answers (supervised fine-tuning);
            ``"token"``: also match ``teacher``'s token distributions; ``"auto"``: ``"token"``
            when a teacher is given.
        teacher: A local teacher for token-level distillation: an alias, path or hub id, or a
            loaded ``transformers`` model; it must share the student's tokenizer.
        output_dir: Where checkpoints (and the final specialist, under ``specialist/``) go; a
            temporary folder, removed after ``fit``, when ``None`` (no resumption then).
        device: ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``...
        seed: Seed of the adapter initialisation and data order.

    Attributes:
        specialist_: The fine-tuned :class:`Specialist`.
        history_: The trainer's log: one dict per logging step and evaluation.
        stats_: Examples used and dropped, steps, losses, tokens, runtime, tokens/s, peak memory.
        base_model_spec_: The resolved base model.
        device_: The device used.

    Examples:
        >>> FineTuner(method="dora", lora=LoraSettings(r=8))  # doctest: +ELLIPSIS
        FineTuner(lora=LoraSettings(r=8, lora_alpha=16, ...), method='dora')
    """

    def __init__(self, base_model: str | BaseModelSpec = "smollm2-135m", method: str = "lora",
                 lora: LoraSettings | None = None,
                 quantization: QuantizationSettings | None = None,
                 training: TrainingSettings | None = None, distillation: str = "auto",
                 teacher: Any = None, output_dir: str | Path | None = None,
                 device: str = "auto", seed: int = 0) -> None:
        self.base_model = base_model
        self.method = method
        self.lora = lora
        self.quantization = quantization
        self.training = training
        self.distillation = distillation
        self.teacher = teacher
        self.output_dir = output_dir
        self.device = device
        self.seed = seed

    # -- parameters ---------------------------------------------------------------------------

    def _check(self) -> tuple[LoraSettings, QuantizationSettings | None, TrainingSettings, str]:
        if self.method not in METHODS:
            raise ConfigError(f"method {self.method!r} is not one of: {', '.join(METHODS)}")
        if self.distillation not in DISTILLATION:
            raise ConfigError(f"distillation {self.distillation!r} is not one of: "
                              f"{', '.join(DISTILLATION)}")
        distillation = self.distillation
        if distillation == "auto":
            distillation = "token" if self.teacher is not None else "sequence"
        if distillation == "token" and self.teacher is None:
            raise ConfigError("distillation='token' needs a local teacher model (teacher=...)")
        if distillation == "sequence" and self.teacher is not None:
            raise ConfigError("a teacher was given with distillation='sequence'; use 'token' "
                              "(or 'auto') to distil from it, or drop the teacher")
        lora = _settings(self.lora, LoraSettings, "lora")
        training = _settings(self.training, TrainingSettings, "training")
        quantization = None
        if self.method == "qlora":
            quantization = _settings(self.quantization, QuantizationSettings, "quantization")
        elif self.quantization is not None:
            raise ConfigError(f"quantization applies to method='qlora' only, not "
                              f"{self.method!r}")
        if self.method == "full" and self.lora is not None:
            logger.warning("method='full' trains every weight: the lora settings are ignored")
        return lora, quantization, training, distillation

    # -- fitting ------------------------------------------------------------------------------

    def fit(self, train: Any, eval_dataset: Any = None) -> Specialist:
        """Fine-tune on ``train`` and return the :class:`Specialist`.

        Args:
            train: A :class:`~slm_agents.Dataset`, a :class:`~slm_agents.DatasetSplits` (its
                ``validation`` split is used for evaluation unless ``eval_dataset`` is given)
                or a list of chat example dicts.
            eval_dataset: Validation examples: evaluated at every checkpoint, used for early
                stopping and to restore the best checkpoint at the end.

        Returns:
            The fine-tuned specialist (also in :attr:`specialist_`).

        Raises:
            TrainingError: unusable data (empty, a single example, every example too long, a
                call to a tool the example does not offer) or a failed training step.
            ConfigError: invalid options.
            MissingDependencyError: the ``train`` extra is not installed.
            ModelLoadError: the base or teacher model cannot be loaded.
        """
        lora, quantization, training, distillation = self._check()
        for package in ("torch", "transformers", "trl", "datasets"):
            require(package)
        if self.method != "full":
            require("peft", "LoRA adapters")
        transformers = require("transformers")
        if eval_dataset is None and hasattr(train, "validation") and hasattr(train, "train"):
            eval_dataset = train.validation if len(train.validation) else None
        if hasattr(train, "validation") and hasattr(train, "train"):
            train = train.train
        train_examples = as_examples(train)
        validate_examples(train_examples)
        eval_examples = as_examples(eval_dataset, "validation") if eval_dataset is not None else []
        if eval_dataset is not None:
            validate_examples(eval_examples, "validation")

        self.device_ = resolve_device(self.device)
        self.base_model_spec_ = resolve_base_model(self.base_model)
        tokenizer = load_tokenizer(self.base_model_spec_)
        renderer = ChatRenderer(tokenizer)
        encoded = encode_examples(renderer, train_examples, training.max_length)
        encoded_eval = (encode_examples(renderer, eval_examples, training.max_length,
                                        "validation") if eval_examples else None)

        transformers.set_seed(self.seed)
        model = self._model(lora, quantization, training)
        owns_dir = self.output_dir is None
        output_dir = (Path(tempfile.mkdtemp(prefix="slm_agents_ft_")) if self.output_dir is None
                      else Path(self.output_dir))
        try:
            checkpoint = self._checkpoint(output_dir, training, encoded, lora, quantization,
                                          distillation)
            trainer = self._trainer(model, tokenizer, training, output_dir, encoded,
                                    encoded_eval, distillation)
            start_epoch = 0.0
            if checkpoint is not None:
                state = transformers.TrainerState.load_from_json(
                    str(Path(checkpoint) / "trainer_state.json"))
                start_epoch = float(state.epoch or 0.0)
                logger.info("resuming from %s", checkpoint)
            started = time.perf_counter()
            try:
                result = trainer.train(resume_from_checkpoint=checkpoint)
            except (RuntimeError, ValueError) as exc:
                raise TrainingError(f"training failed: {exc}") from exc
            runtime = time.perf_counter() - started
            self.history_ = list(trainer.state.log_history)
            self.stats_ = self._stats(trainer, result, runtime, encoded, encoded_eval,
                                      start_epoch, checkpoint)
            model = trainer.model
            if quantization is not None:
                _adapter_to_float32(model)  # what loading the saved adapter gives
            manifest = {
                "method": self.method, "lora": None if self.method == "full" else
                lora.model_copy(update={"use_dora": lora.use_dora or self.method == "dora"})
                .to_dict(),
                "quantization": quantization.to_dict() if quantization else None,
                "training": training.to_dict(), "distillation": distillation,
                "metadata": {**self.stats_, "seed": self.seed,
                             "created_at": datetime.now(timezone.utc).isoformat(),
                             "versions": _versions()}}
            self.specialist_ = Specialist._from_model(model, tokenizer, self.base_model_spec_,
                                                      self.device_, manifest)
            if not owns_dir:
                self.specialist_.save(output_dir / "specialist")
        finally:
            if owns_dir:
                shutil.rmtree(output_dir, ignore_errors=True)
        return self.specialist_

    def _model(self, lora: LoraSettings, quantization: QuantizationSettings | None,
               training: TrainingSettings) -> Any:
        model = load_model(self.base_model_spec_, device=self.device_, quantization=quantization)
        if self.method == "full":
            return model
        peft = require("peft", "LoRA adapters")
        if quantization is not None:
            model = peft.prepare_model_for_kbit_training(
                model, use_gradient_checkpointing=training.gradient_checkpointing,
                gradient_checkpointing_kwargs={"use_reentrant": False})
        config = lora.to_peft(use_dora=lora.use_dora or self.method == "dora",
                              model=model)
        return peft.get_peft_model(model, config)

    def _teacher(self, tokenizer: Any) -> Any:
        teacher = self.teacher
        if isinstance(teacher, (str, BaseModelSpec)):
            spec = resolve_base_model(teacher)
            if load_tokenizer(spec).get_vocab() != tokenizer.get_vocab():
                raise ConfigError(f"the teacher {spec.name!r} does not share the student's "
                                  "tokenizer; token-level distillation compares logits token "
                                  "by token (use distillation='sequence' instead)")
            return load_model(spec, device=self.device_)
        embeddings = getattr(teacher, "get_output_embeddings", lambda: None)()
        if embeddings is None or not hasattr(teacher, "config"):
            raise ConfigError("teacher must be an alias, path or hub id, or a loaded "
                              f"transformers causal LM, not {type(teacher).__name__}")
        if embeddings.weight.shape[0] < len(tokenizer):
            raise ConfigError(f"the teacher's vocabulary ({embeddings.weight.shape[0]}) is "
                              f"smaller than the student tokenizer's ({len(tokenizer)})")
        return teacher.to(self.device_)

    def _trainer(self, model: Any, tokenizer: Any, training: TrainingSettings,
                 output_dir: Path, encoded: Any, encoded_eval: Any, distillation: str) -> Any:
        torch = require("torch")
        transformers = require("transformers")
        trl = require("trl")
        has_eval = encoded_eval is not None
        strategy = "steps" if training.save_steps else "epoch"
        cuda = self.device_.startswith("cuda")
        args = trl.SFTConfig(
            output_dir=str(output_dir), seed=self.seed, data_seed=self.seed,
            num_train_epochs=training.num_train_epochs, max_steps=training.max_steps,
            per_device_train_batch_size=training.per_device_train_batch_size,
            per_device_eval_batch_size=training.per_device_eval_batch_size,
            gradient_accumulation_steps=training.gradient_accumulation_steps,
            learning_rate=training.learning_rate, lr_scheduler_type=training.lr_scheduler_type,
            warmup_steps=training.warmup_ratio, weight_decay=training.weight_decay,
            max_grad_norm=training.max_grad_norm, max_length=training.max_length,
            packing=training.packing, packing_strategy="bfd",
            **_checkpointing_args(trl.SFTConfig, training.gradient_checkpointing),
            save_strategy=strategy, save_steps=training.save_steps or 500,
            save_total_limit=training.save_total_limit,
            eval_strategy=strategy if has_eval else "no", eval_steps=training.save_steps,
            load_best_model_at_end=has_eval, metric_for_best_model="eval_loss",
            greater_is_better=False, logging_steps=training.logging_steps,
            disable_tqdm=not training.progress, report_to="none", label_names=["labels"],
            prediction_loss_only=True, use_cpu=not cuda,
            bf16=cuda and torch.cuda.is_bf16_supported(), dataloader_num_workers=0,
            # The rows are already tokenised, labelled and no longer than max_length; TRL only
            # has to prepare them when it packs them.
            dataset_kwargs=None if training.packing else {"skip_prepare_dataset": True})
        callbacks = []
        if has_eval and training.early_stopping_patience:
            callbacks.append(transformers.EarlyStoppingCallback(
                early_stopping_patience=training.early_stopping_patience))
        kwargs: dict[str, Any] = {
            "model": model, "args": args, "train_dataset": encoded.to_hf(),
            "eval_dataset": encoded_eval.to_hf() if has_eval else None,
            "processing_class": tokenizer, "callbacks": callbacks}
        from .trainers import trainer_classes

        answer_trainer, distillation_trainer = trainer_classes()
        if distillation == "token":
            trainer = distillation_trainer(
                teacher_model=self._teacher(tokenizer), alpha=training.distill_alpha,
                temperature=training.distill_temperature, **kwargs)
        else:
            trainer = answer_trainer(**kwargs)
        if not training.progress:
            # With the bar off, transformers prints every log line instead; history_ keeps them.
            trainer.remove_callback(transformers.PrinterCallback)
        elif trainer.pop_callback(transformers.ProgressCallback) is not None:
            # The bar shows the loss; the raw log dicts it would print under it are in history_.
            trainer.add_callback(_loss_in_bar_callback(transformers))
        if self.method == "qlora" and not cuda:
            # TRL casts QLoRA adapters to bf16 (the paper's CUDA recipe); on the CPU the
            # compute dtype is float32 and the saved adapter loads back as float32, so keep it.
            _adapter_to_float32(trainer.model)
        return trainer

    def _checkpoint(self, output_dir: Path, training: TrainingSettings, encoded: Any,
                    lora: LoraSettings, quantization: QuantizationSettings | None,
                    distillation: str) -> str | None:
        """The checkpoint to resume from, after checking it belongs to this run."""
        transformers = require("transformers")
        digest = hashlib.sha256()
        for row in encoded.rows:
            digest.update(json.dumps(row["input_ids"]).encode())
            digest.update(json.dumps(row["labels"]).encode())
        fingerprint = {
            "base_model": self.base_model_spec_.name, "method": self.method,
            "lora": lora.to_dict() if self.method != "full" else None,
            "quantization": quantization.to_dict() if quantization else None,
            "distillation": distillation, "seed": self.seed, "data": digest.hexdigest(),
            "batch": [training.per_device_train_batch_size, training.gradient_accumulation_steps],
            "max_length": training.max_length, "packing": training.packing}
        output_dir.mkdir(parents=True, exist_ok=True)
        run_file = output_dir / RUN_FILE
        last = (transformers.trainer_utils.get_last_checkpoint(str(output_dir))
                if training.resume else None)
        if last is not None and run_file.is_file():
            previous = json.loads(run_file.read_text(encoding="utf-8"))
            if previous != fingerprint:
                changed = sorted(k for k in fingerprint if previous.get(k) != fingerprint[k])
                raise ConfigError(
                    f"{output_dir} holds checkpoints of a different run ({', '.join(changed)} "
                    "changed); use another output_dir or TrainingSettings(resume=False)")
        run_file.write_text(json.dumps(fingerprint, indent=2) + "\n", encoding="utf-8")
        return last

    def _stats(self, trainer: Any, result: Any, runtime: float, encoded: Any, encoded_eval: Any,
               start_epoch: float, checkpoint: str | None) -> dict[str, Any]:
        torch = require("torch")
        state = trainer.state
        epochs_run = max(float(state.epoch or 0.0) - start_epoch, 0.0)
        tokens = encoded.n_tokens * epochs_run
        eval_losses = [e["eval_loss"] for e in state.log_history if "eval_loss" in e]
        train_losses = [e["loss"] for e in state.log_history if "loss" in e]
        stats: dict[str, Any] = {
            "train_examples": len(encoded.rows),
            "dropped_too_long": list(encoded.dropped_too_long),
            "eval_examples": len(encoded_eval.rows) if encoded_eval is not None else 0,
            "global_step": int(state.global_step), "epochs": float(state.epoch or 0.0),
            "train_loss": float(result.training_loss) if result is not None else None,
            "first_logged_loss": train_losses[0] if train_losses else None,
            "last_logged_loss": train_losses[-1] if train_losses else None,
            "best_eval_loss": float(state.best_metric) if state.best_metric is not None
            else (min(eval_losses) if eval_losses else None),
            "resumed_from": Path(checkpoint).name if checkpoint else None,
            "runtime_s": round(runtime, 3), "train_tokens": int(tokens),
            "tokens_per_s": round(tokens / runtime, 1) if runtime > 0 else None,
            "peak_rss_mb": _peak_rss_mb(),
        }
        if self.device_.startswith("cuda"):
            stats["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        return stats


def _checkpointing_args(config_class: type, enabled: bool) -> dict[str, Any]:
    # transformers 5 renamed gradient_checkpointing to activation_checkpointing (the old name
    # warns); older versions know only the old one.
    fields = {f.name for f in dataclasses.fields(config_class)}
    prefix = "activation" if "activation_checkpointing" in fields else "gradient"
    return {f"{prefix}_checkpointing": enabled,
            f"{prefix}_checkpointing_kwargs": {"use_reentrant": False}}


def _loss_in_bar_callback(transformers: Any) -> Any:
    """transformers' progress bar, with the latest training loss as the bar's postfix instead
    of each log dict printed under it."""

    class LossInBar(transformers.ProgressCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None,
                   **kwargs: Any) -> None:
            bar = getattr(self, "training_bar", None)
            if bar is not None and logs and "loss" in logs:
                bar.set_postfix(loss=logs["loss"], refresh=False)

    return LossInBar()


def _adapter_to_float32(model: Any) -> None:
    torch = require("torch")
    for name, parameter in model.named_parameters():
        if "lora_" in name and parameter.dtype != torch.float32:
            parameter.data = parameter.data.float()


def _peak_rss_mb() -> float | None:
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)


def _versions() -> dict[str, str]:
    versions = {}
    for package in ("torch", "transformers", "peft", "trl", "bitsandbytes"):
        module = sys.modules.get(package)
        if module is not None:
            versions[package] = str(getattr(module, "__version__", "?"))
    from .. import __version__

    versions["slm_agents"] = __version__
    return versions
