"""A fine-tuned small model that answers one task's calls: base model + adapter.

A :class:`Specialist` is what :meth:`FineTuner.fit <slm_agents.train.FineTuner.fit>` returns and
what the router serves. :meth:`Specialist.from_base` wraps a base model with no adapter (the
zero-shot baseline, and what the catalog probes).

Saved layout (``save``/``load``)::

    path/specialist.json   manifest: base model, method, settings, training metadata
    path/adapter/          the peft adapter (lora, qlora, dora)
    path/model/            the full weights (method "full")
    path/tokenizer/        the tokenizer, with its chat template

Examples:
    >>> spec = Specialist.from_base("smollm2-135m")          # doctest: +SKIP
    >>> spec.generate([{"role": "user", "content": "Hi!"}]).text  # doctest: +SKIP
    'Hello! How can I help you today?'
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ModelLoadError
from .config import QuantizationSettings
from .data import ChatRenderer
from .generation import Generation, parse_tool_output
from .models import (
    ALIASES,
    BaseModelSpec,
    load_model,
    load_tokenizer,
    prepare_tokenizer,
    require,
    resolve_base_model,
    resolve_device,
)

__all__ = ["MANIFEST", "Specialist"]

MANIFEST = "specialist.json"
FORMAT_VERSION = 1


class Specialist:
    """A base model with an optional fine-tuned adapter, answering chat calls.

    Args:
        base_model: Alias (``"smollm2-135m"``), hub id or local path of the base model.
        adapter_path: A peft adapter folder to apply, or ``None`` for the base model alone.
        device: ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``...
        quantization: Load the base model in 4 bits (as for QLoRA).

    Attributes:
        base_model_spec: Where the base model came from.
        method: ``"base"``, ``"lora"``, ``"qlora"``, ``"dora"`` or ``"full"``.
        manifest: Settings and training metadata (what :meth:`save` writes).
        model: The ``transformers`` (or ``peft``) model.
        tokenizer: Its tokenizer.
        device: The device the model runs on.

    Examples:
        >>> s = Specialist.load("specialists/weather")             # doctest: +SKIP
        >>> g = s.generate(messages, tools=tools, constrain="tools")  # doctest: +SKIP
        >>> g.tool_calls[0].name                                    # doctest: +SKIP
        'get_weather'
    """

    def __init__(self, base_model: str | BaseModelSpec = "smollm2-135m",
                 adapter_path: str | Path | None = None, *, device: str = "auto",
                 quantization: QuantizationSettings | None = None) -> None:
        spec = resolve_base_model(base_model)
        resolved = resolve_device(device)
        model = load_model(spec, device=resolved, quantization=quantization)
        method = "base"
        if adapter_path is not None:
            model = _attach_adapter(model, adapter_path)
            dora = any(getattr(c, "use_dora", False) for c in model.peft_config.values())
            method = "qlora" if quantization is not None else "dora" if dora else "lora"
        self._setup(model, load_tokenizer(spec), spec, resolved, {
            "method": method, "quantization": quantization.to_dict() if quantization else None})

    def _setup(self, model: Any, tokenizer: Any, spec: BaseModelSpec, device: str,
               manifest: Mapping[str, Any]) -> None:
        self.model = model
        self.model.eval()
        self.tokenizer = prepare_tokenizer(tokenizer)
        self.base_model_spec = spec
        self.device = device
        self.manifest: dict[str, Any] = {
            "format": "slm_agents.specialist", "format_version": FORMAT_VERSION,
            "base_model": spec.model_dump(), "method": "base", "lora": None,
            "quantization": None, "training": None, "distillation": None, "metadata": {},
            **manifest}
        self.method: str = self.manifest["method"]
        self.renderer = ChatRenderer(self.tokenizer)
        self._token_strings: list[str] | None = None

    @classmethod
    def _from_model(cls, model: Any, tokenizer: Any, spec: BaseModelSpec, device: str,
                    manifest: Mapping[str, Any]) -> Specialist:
        self = cls.__new__(cls)
        self._setup(model, tokenizer, spec, device, manifest)
        return self

    @classmethod
    def from_base(cls, base_model: str | BaseModelSpec = "smollm2-135m", *,
                  device: str = "auto",
                  quantization: QuantizationSettings | None = None) -> Specialist:
        """The base model alone (no adapter): the zero-shot baseline.

        Examples:
            >>> Specialist.from_base("smollm2-135m").method  # doctest: +SKIP
            'base'
        """
        return cls(base_model, None, device=device, quantization=quantization)

    def __repr__(self) -> str:
        return (f"Specialist(base_model={self.base_model_spec.name!r}, method={self.method!r}, "
                f"device={self.device!r})")

    # -- generation ---------------------------------------------------------------------------

    def generate(self, messages: Sequence[Mapping[str, Any]],
                 tools: Sequence[Mapping[str, Any]] | None = None, *,
                 max_new_tokens: int = 256, constrain: bool | str = False,
                 **generate_kwargs: Any) -> Generation:
        """Answer one conversation: text, or tool calls parsed from the output.

        Decoding is greedy unless ``generate_kwargs`` say otherwise (``do_sample=True``...).

        Args:
            messages: OpenAI-style chat messages (the conversation so far).
            tools: The tools offered (OpenAI specs), rendered into the prompt.
            max_new_tokens: Generation budget.
            constrain: ``"tools"`` to force a tool call to an offered tool with JSON-object
                arguments (see :mod:`slm_agents.train.constrained` for what is guaranteed);
                ``False`` for free generation.
            **generate_kwargs: Passed to ``model.generate``'s generation config.

        Returns:
            A :class:`Generation` with token counts and latency.

        Raises:
            ConfigError: ``constrain`` is unknown, or ``"tools"`` without tools.
        """
        torch = require("torch")
        transformers = require("transformers")
        if constrain not in (False, None, "tools"):
            raise ConfigError(f"constrain must be False or 'tools', not {constrain!r}")
        if constrain == "tools" and not tools:
            raise ConfigError("constrain='tools' needs the tools offered (tools=[...])")
        prompt_ids = self.renderer.encode_prompt(messages, tools)
        inputs = torch.tensor([prompt_ids], device=self.model.device)
        config = transformers.GenerationConfig(
            max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=self._stop_ids(),
            pad_token_id=self.tokenizer.pad_token_id, use_cache=True)
        config.update(**generate_kwargs)
        processors = transformers.LogitsProcessorList()
        if constrain == "tools":
            from .constrained import ToolCallConstraint, token_texts

            if self._token_strings is None:
                self._token_strings = token_texts(self.tokenizer)
            try:
                processors.append(ToolCallConstraint(
                    self.tokenizer, list(tools or ()), len(prompt_ids), max_new_tokens,
                    token_strings=self._token_strings))
            except ValueError as exc:
                raise ConfigError(str(exc)) from exc
        start = time.perf_counter()
        with torch.inference_mode():
            output = self.model.generate(input_ids=inputs,
                                         attention_mask=torch.ones_like(inputs),
                                         generation_config=config, logits_processor=processors)
        latency_ms = (time.perf_counter() - start) * 1000.0
        new_tokens = output[0, len(prompt_ids):].tolist()
        raw = self.tokenizer.decode(new_tokens, skip_special_tokens=True)
        generation = parse_tool_output(raw, tools)
        generation.input_tokens = len(prompt_ids)
        generation.output_tokens = len(new_tokens)
        generation.latency_ms = latency_ms
        return generation

    def _stop_ids(self) -> list[int]:
        # The tokenizer's EOS ends a turn in our template; a model's generation config may add
        # others (Llama 3's <|eot_id|> and <|end_of_text|>).
        ids = [self.tokenizer.eos_token_id]
        configured = getattr(getattr(self.model, "generation_config", None), "eos_token_id", None)
        for token in configured if isinstance(configured, list) else [configured]:
            if isinstance(token, int) and token not in ids:
                ids.append(token)
        return [i for i in ids if i is not None]

    # -- persistence --------------------------------------------------------------------------

    def _is_peft(self) -> bool:
        return hasattr(self.model, "peft_config")

    def save(self, path: str | Path) -> Path:
        """Write the adapter (or full weights), tokenizer and manifest into ``path``.

        Returns:
            The folder written.
        """
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        weights = None
        if self._is_peft():
            weights = "adapter"
            self.model.save_pretrained(path / "adapter")
        elif self.method == "full":
            weights = "model"
            self.model.save_pretrained(path / "model")
        self.tokenizer.save_pretrained(path / "tokenizer")
        manifest = {**self.manifest, "weights": weights}
        (path / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str) + "\n",
                                     encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path, *, device: str = "auto") -> Specialist:
        """Load a specialist written by :meth:`save`.

        The base model is resolved again from its name when that is an alias (so a saved
        specialist moves between machines), else from the stored source.

        Raises:
            ModelLoadError: no manifest, an unknown format, or missing weights.
        """
        path = Path(path)
        try:
            manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ModelLoadError(f"no saved specialist in {path} (missing {MANIFEST})") from exc
        except json.JSONDecodeError as exc:
            raise ModelLoadError(f"{path / MANIFEST} is not valid JSON: {exc}") from exc
        if manifest.get("format") != "slm_agents.specialist":
            raise ModelLoadError(f"{path / MANIFEST} is not a specialist manifest")
        if int(manifest.get("format_version", 0)) > FORMAT_VERSION:
            raise ModelLoadError(f"{path} was saved by a newer slm_agents (format "
                                 f"{manifest['format_version']}); upgrade to load it")
        stored = BaseModelSpec(**manifest["base_model"])
        spec = (resolve_base_model(stored.name) if stored.name.lower() in ALIASES
                else stored)
        resolved = resolve_device(device)
        quantization = (QuantizationSettings.from_dict(manifest["quantization"])
                        if manifest.get("quantization") else None)
        weights = manifest.get("weights")
        if weights == "model":
            model = load_model(spec, device=resolved, path=path / "model")
        else:
            model = load_model(spec, device=resolved, quantization=quantization)
            if weights == "adapter":
                model = _attach_adapter(model, path / "adapter")
        tokenizer = _load_saved_tokenizer(path / "tokenizer") or load_tokenizer(spec)
        return cls._from_model(model, tokenizer, spec, resolved, manifest)

    def merge_and_export(self, path: str | Path) -> Path:
        """Save the base model with the adapter merged in, loadable by plain transformers.

        ``AutoModelForCausalLM.from_pretrained(path)`` then needs neither peft nor
        slm_agents. The adapter is merged into a freshly loaded, unquantised base model
        (a QLoRA specialist's export therefore uses full-precision base weights).

        Returns:
            The folder written.
        """
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        if not self._is_peft():
            self.model.save_pretrained(path)
        else:
            with tempfile.TemporaryDirectory(prefix="slm_agents_adapter_") as tmp:
                self.model.save_pretrained(tmp)
                base = load_model(self.base_model_spec, device="cpu")
                merged = _attach_adapter(base, tmp).merge_and_unload()
                merged.save_pretrained(path)
        self.tokenizer.save_pretrained(path)
        return path


def _attach_adapter(model: Any, adapter_path: str | Path) -> Any:
    peft = require("peft", "LoRA adapters")
    if not Path(adapter_path, "adapter_config.json").is_file():
        raise ModelLoadError(f"no peft adapter in {adapter_path} (missing adapter_config.json)")
    return peft.PeftModel.from_pretrained(model, str(adapter_path))


def _load_saved_tokenizer(path: Path) -> Any:
    if not path.is_dir():
        return None
    transformers = require("transformers")
    return transformers.AutoTokenizer.from_pretrained(str(path))
