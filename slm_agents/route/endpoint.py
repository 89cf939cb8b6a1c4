"""A specialist (or LLM) behind an OpenAI-compatible HTTP endpoint, e.g. vLLM serving LoRA adapters.

``POST {base_url}/chat/completions`` with the messages, the tools and the model name (for vLLM with
``--enable-lora``, the adapter's name). Uses httpx when it is installed, else the standard
library. A response whose text holds ``<tool_call>`` blocks (an adapter served without a tool
parser) is parsed like a local specialist's output.

Examples:
    >>> endpoint = OpenAICompatible("http://localhost:8000/v1", model="refunds-lora")
    >>> endpoint.url
    'http://localhost:8000/v1/chat/completions'
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ConfigError
from ..train.generation import Generation
from .models import to_generation

__all__ = ["OpenAICompatible"]


class OpenAICompatible:
    """A GenerativeModel that calls an OpenAI-compatible chat-completions endpoint.

    Args:
        base_url: The API root, e.g. ``"http://localhost:8000/v1"``.
        model: The model (or LoRA adapter) name the server knows.
        api_key: Sent as a bearer token when given.
        timeout_s: HTTP timeout per request.
        params: Extra body fields for every request (``temperature``, ``max_tokens``...).
        headers: Extra HTTP headers.
    """

    def __init__(self, base_url: str, model: str, api_key: str | None = None, *,
                 timeout_s: float = 60.0, params: Mapping[str, Any] | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"base_url must be an http(s) URL; got {base_url!r}")
        if not isinstance(model, str) or not model:
            raise ConfigError("model must be the non-empty name the server serves")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.params = dict(params or {})
        self.headers = dict(headers or {})
        self._client: Any = None

    @property
    def url(self) -> str:
        """The chat-completions URL."""
        return f"{self.base_url}/chat/completions"

    def _request(self, messages: Sequence[Mapping[str, Any]],
                 tools: Sequence[Mapping[str, Any]] | None,
                 kwargs: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        body: dict[str, Any] = {"model": self.model, "messages": list(messages),
                                **self.params, **kwargs}
        if tools:
            body["tools"] = list(tools)
        headers = {"Content-Type": "application/json", **self.headers}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return body, headers

    def generate(self, messages: Sequence[Mapping[str, Any]],
                 tools: Sequence[Mapping[str, Any]] | None = None, **kwargs: Any) -> Generation:
        """One chat completion, as a :class:`~slm_agents.train.Generation`."""
        body, headers = self._request(messages, tools, kwargs)
        try:
            import httpx
        except ImportError:
            request = urllib.request.Request(self.url, data=json.dumps(body).encode("utf-8"),
                                             headers=headers, method="POST")
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                payload = json.loads(response.read().decode("utf-8"))
        else:
            if self._client is None:
                self._client = httpx.Client(timeout=self.timeout_s)
            response = self._client.post(self.url, json=body, headers=headers)
            response.raise_for_status()
            payload = response.json()
        return to_generation(payload, tools)

    async def agenerate(self, messages: Sequence[Mapping[str, Any]],
                        tools: Sequence[Mapping[str, Any]] | None = None,
                        **kwargs: Any) -> Generation:
        """Async :meth:`generate` (httpx's async client, else a worker thread)."""
        try:
            import httpx
        except ImportError:
            return await asyncio.to_thread(self.generate, messages, tools, **kwargs)
        body, headers = self._request(messages, tools, kwargs)
        async with httpx.AsyncClient(timeout=self.timeout_s) as client:
            response = await client.post(self.url, json=body, headers=headers)
            response.raise_for_status()
            return to_generation(response.json(), tools)

    def __repr__(self) -> str:
        return f"OpenAICompatible({self.base_url!r}, model={self.model!r})"
