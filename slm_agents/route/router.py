"""The heterogeneous router: each call to its task's specialist, escalating to the LLM when needed.

Per call: the policy identifies the task with a confidence; the call goes to the task's specialist
when the task has one, the confidence reaches the task's threshold and the call falls in the
task's canary fraction (with ``sticky=True`` a trace keeps the route of its first call). The
specialist's answer is served only if it keeps the agent's contract (it parses, calls only
offered tools with arguments that satisfy their schemas, passes the user's validators); otherwise,
or on an exception or a timeout, the LLM answers, and the caller sees that one answer. Test-time
compute comes first: ``samples`` answers and a vote, and one retry with the checker's feedback.
Shadow mode asks both and serves the LLM. Every call is counted (:meth:`Router.stats`) and, with a
``recorder``, captured as a CallRecord of the served answer with the decision in its metadata.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ..errors import ConfigError, RoutingError
from ..records import utcnow
from ..train.generation import Generation
from .gates import DecisionGates, generation_tokens, outcome_tokens
from .models import ModelHandle, as_model
from .policy import RouteDecision, RoutingCall, RoutingPolicy, as_policy
from .result import RoutedGeneration, capture, routed
from .stage import StageOutcome, plan, run_async, run_sync
from .stats import CallOutcome, RoutePrices, RouterStats, StatsCollector, as_prices
from .validation import Validator, answers_agree, contract_for

__all__ = ["Router"]

logger = logging.getLogger("slm_agents")

Messages = Sequence[Mapping[str, Any]]


class Router(DecisionGates):
    """Send each call to its task's specialist; escalate to the LLM when it should.

    Args:
        llm: The fallback model: a LangChain chat model, a LlamaIndex LLM, a GenerativeModel or
            a callable ``(messages, tools) -> Generation | str | dict``.
        specialists: ``{task: model}``, each model in any of those forms (a
            :class:`~slm_agents.train.Specialist`, an
            :class:`~slm_agents.route.OpenAICompatible` endpoint...).
        clusterer: A fitted ``TaskClusterer`` that identifies tasks (``assign``).
        policy: Instead of (or, for a mapping, with) the clusterer: a
            :class:`~slm_agents.route.RoutingPolicy`, a callable ``call -> task | (task,
            confidence) | RouteDecision``, or a ``{task: "specialist" | "llm"}`` mapping.
        thresholds: Minimum confidence for the specialist: one number, or ``{task: number}``
            (tasks left out use 0.5). :meth:`calibrate` sets them from data.
        validators: Callables ``(generation, call) -> None | error message`` (``call`` is the
            :class:`~slm_agents.route.RoutingCall`) run on specialist answers after the
            built-in checks; a validator that raises rejects the answer.
        retry_with_feedback: Retry a rejected specialist answer once, with the error appended.
        samples: Specialist answers per call; more than one votes on the parsed answer.
        timeout_s: Seconds the specialist's whole turn may take before the LLM answers.
        shadow: ``True`` or a set of tasks: ask both, serve the LLM, log their agreement.
        canary: Share of eligible calls sent to the specialist: a number or ``{task: number}``.
        sticky: Keep a trace on the route of its first call (an LRU of ``max_traces`` traces).
        recorder: A :class:`~slm_agents.Recorder` capturing every decision.
        prices: ``{"llm": price, "specialist": price}`` for :meth:`stats` (see
            :class:`~slm_agents.route.stats.RoutePrices`).
        seed: Seed of the canary's per-call coin.
        agent: The agent's name (a signal the clusterer reads; stamped on records).
        agreement: ``(specialist_answer, llm_answer) -> bool`` for shadow mode and calibration
            (default: :func:`~slm_agents.route.answers_agree`, the evaluation's agreement).
        max_traces: Traces remembered for stickiness.
        max_workers: Threads for timeouts and shadow calls.

    Examples:
        >>> router = Router(lambda messages, tools: "I can help with that.",
        ...                 specialists={"greet": lambda messages, tools: "Hello!"},
        ...                 policy=lambda call: "greet")
        >>> answer = router.invoke([{"role": "user", "content": "hi"}])
        >>> answer.text, answer.route, answer.task
        ('Hello!', 'specialist', 'greet')
        >>> router.stats().by_route
        {'specialist': 1, 'llm': 0}
    """

    def __init__(self, llm: Any, specialists: Mapping[Any, Any] | None = None, *,
                 clusterer: Any = None, policy: Any = None,
                 thresholds: float | Mapping[Any, float] = 0.5,
                 validators: Validator | Iterable[Validator] = (),
                 retry_with_feedback: bool = False, samples: int = 1,
                 timeout_s: float | None = None, shadow: bool | Iterable[Any] = False,
                 canary: float | Mapping[Any, float] = 1.0, sticky: bool = False,
                 recorder: Any = None, prices: Any = None, seed: int = 0,
                 agent: str | None = None,
                 agreement: Callable[[Generation, Generation], bool] | None = None,
                 max_traces: int = 10_000, max_workers: int = 8) -> None:
        if specialists is not None and not isinstance(specialists, Mapping):
            raise TypeError("specialists must be a {task: model} mapping; got "
                            f"{type(specialists).__name__}")
        self.llm = llm
        self.specialists = dict(specialists or {})
        self.clusterer = clusterer
        self.policy = policy
        self._llm: ModelHandle = as_model(llm, "llm")
        self._specialists: dict[Any, ModelHandle] = {
            task: as_model(model, f"specialists[{task!r}]")
            for task, model in self.specialists.items()}
        self._policy: RoutingPolicy = as_policy(policy, clusterer)
        self._alias = self._task_aliases(clusterer)
        self.thresholds = thresholds
        self.canary = canary
        validators = [validators] if callable(validators) else list(validators)
        if not all(callable(v) for v in validators):
            raise TypeError("validators must be callables (generation, call) -> None | message")
        self.validators: list[Validator] = validators
        if not isinstance(samples, int) or isinstance(samples, bool) or samples < 1:
            raise ConfigError(f"samples must be an integer >= 1; got {samples!r}")
        if timeout_s is not None and not (isinstance(timeout_s, (int, float)) and timeout_s > 0):
            raise ConfigError(f"timeout_s must be None or a number > 0; got {timeout_s!r}")
        if recorder is not None and not callable(getattr(recorder, "record", None)):
            raise TypeError("recorder must be a slm_agents.Recorder (anything with "
                            f"record(CallRecord)); got {type(recorder).__name__}")
        self.samples, self.timeout_s = samples, timeout_s
        self.retry_with_feedback = bool(retry_with_feedback)
        self.shadow = shadow
        self._shadow_all = shadow is True
        self._shadow_tasks = (frozenset() if isinstance(shadow, bool)
                              else frozenset(self._resolve(t) for t in shadow))
        self.sticky, self.max_traces = bool(sticky), max_traces
        self.recorder, self.seed, self.agent = recorder, seed, agent
        self.prices: RoutePrices = as_prices(prices)
        self.agreement = agreement
        self.max_workers = max_workers
        self._traces: OrderedDict[str, RouteDecision] = OrderedDict()
        self._lock = threading.Lock()
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._stats = StatsCollector()

    # ------------------------------------------------------------------ the specialist's turn
    def _plan(self, call: RoutingCall) -> Any:
        return plan(call.messages, contract_for(call.tools), self.validators, call,
                    self.samples, self.retry_with_feedback)

    def _pool(self) -> concurrent.futures.ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = concurrent.futures.ThreadPoolExecutor(
                    self.max_workers, thread_name_prefix="slm_agents-router")
            return self._executor

    def _specialist_sync(self, call: RoutingCall, task: Any, timed: bool = True) -> StageOutcome:
        model = self._specialists[task]
        if self.timeout_s is None or not timed:
            return run_sync(self._plan(call), model, call.tools)
        future = self._pool().submit(run_sync, self._plan(call), model, call.tools)
        return self._wait(future, self.timeout_s)

    def _wait(self, future: concurrent.futures.Future[StageOutcome],
              timeout: float | None) -> StageOutcome:
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            # The thread cannot be stopped; its late answer is dropped.
            return StageOutcome(reason="timeout", message=f"no answer within {timeout} s",
                                attempts=1, model_ms=(timeout or 0.0) * 1000.0)

    async def _specialist_async(self, call: RoutingCall, task: Any) -> StageOutcome:
        work = run_async(self._plan(call), self._specialists[task], call.tools)
        if self.timeout_s is None:
            return await work
        try:
            return await asyncio.wait_for(work, self.timeout_s)
        except asyncio.TimeoutError:
            return StageOutcome(reason="timeout", message=f"no answer within {self.timeout_s} s",
                                attempts=1, model_ms=self.timeout_s * 1000.0)

    # ------------------------------------------------------------------ serving
    def invoke(self, messages: Any, tools: Any = None, *, trace_id: str | None = None,
               call_id: str | None = None, agent: str | None = None) -> RoutedGeneration:
        """Answer one call (OpenAI-style messages and tool specs).

        Args:
            messages: The conversation (a str is one user message).
            tools: OpenAI tool specs offered to the model.
            trace_id: The conversation / agent run the call belongs to (stickiness, records).
            call_id: The call's id (the canary's coin and the record's id; new when omitted).
            agent: The calling agent's name, when one router serves several agents.

        Raises:
            RoutingError: the LLM failed (its exception is chained); a failing specialist never
                raises, it escalates.
        """
        start, started_at = time.perf_counter(), utcnow()
        call = self._call(messages, tools, trace_id, call_id, agent)
        decision = self._decide(call)
        outcome: StageOutcome | None = None
        if self._is_shadow(decision):
            future = self._pool().submit(self._specialist_sync, call, decision.task, False)
            llm_answer, llm_ms = self._llm_sync(call, decision, None, start, started_at)
            outcome = self._wait(future, self.timeout_s)
            return self._finish(call, decision, "llm", llm_answer, outcome, start, started_at,
                                llm_ms, shadow=True)
        if decision.route == "specialist":
            outcome = self._specialist_sync(call, decision.task)
            if outcome.generation is not None:
                return self._finish(call, decision, "specialist", outcome.generation, outcome,
                                    start, started_at)
        answer, llm_ms = self._llm_sync(call, decision, outcome, start, started_at)
        return self._finish(call, decision, "llm", answer, outcome, start, started_at, llm_ms)

    def _llm_sync(self, call: RoutingCall, decision: RouteDecision, outcome: Any, start: float,
                  started_at: Any) -> tuple[Generation, float]:
        t0 = time.perf_counter()
        try:
            return self._llm.generate(call.messages, call.tools), time.perf_counter() - t0
        except Exception as exc:
            raise self._failed(call, decision, outcome, exc, start, started_at) from exc

    async def ainvoke(self, messages: Any, tools: Any = None, *, trace_id: str | None = None,
                      call_id: str | None = None, agent: str | None = None) -> RoutedGeneration:
        """Async :meth:`invoke`: specialist samples run concurrently, timeouts cancel the wait."""
        start, started_at = time.perf_counter(), utcnow()
        call = self._call(messages, tools, trace_id, call_id, agent)
        decision = self._decide(call)
        outcome: StageOutcome | None = None
        if self._is_shadow(decision):
            side = asyncio.ensure_future(self._specialist_async(call, decision.task))
            try:
                llm_answer, llm_ms = await self._llm_async(call, decision, None, start,
                                                           started_at)
            except BaseException:
                side.cancel()
                raise
            outcome = await side
            return self._finish(call, decision, "llm", llm_answer, outcome, start, started_at,
                                llm_ms, shadow=True)
        if decision.route == "specialist":
            outcome = await self._specialist_async(call, decision.task)
            if outcome.generation is not None:
                return self._finish(call, decision, "specialist", outcome.generation, outcome,
                                    start, started_at)
        answer, llm_ms = await self._llm_async(call, decision, outcome, start, started_at)
        return self._finish(call, decision, "llm", answer, outcome, start, started_at, llm_ms)

    async def _llm_async(self, call: RoutingCall, decision: RouteDecision, outcome: Any,
                         start: float, started_at: Any) -> tuple[Generation, float]:
        t0 = time.perf_counter()
        try:
            return await self._llm.agenerate(call.messages, call.tools), time.perf_counter() - t0
        except Exception as exc:
            raise self._failed(call, decision, outcome, exc, start, started_at) from exc

    def _failed(self, call: RoutingCall, decision: RouteDecision, outcome: StageOutcome | None,
                exc: Exception, start: float, started_at: Any) -> RoutingError:
        latency = (time.perf_counter() - start) * 1000.0
        self._stats.add(CallOutcome(
            route="llm", task=decision.task, reason=decision.reason, error=True,
            fallback_reason=outcome.reason if outcome is not None else None,
            specialist_calls=outcome.attempts if outcome is not None else 0,
            specialist_tokens=outcome_tokens(outcome)))
        capture(self.recorder, call, decision, None, outcome, started_at, latency, error=exc,
                served_model=self._llm.name)
        after = (f" after the specialist's answer was rejected ({outcome.reason})"
                 if outcome is not None and outcome.reason else "")
        return RoutingError(f"the LLM failed{after}: {type(exc).__name__}: {exc}")

    def _finish(self, call: RoutingCall, decision: RouteDecision, route: str,
                generation: Generation, outcome: StageOutcome | None, start: float,
                started_at: Any, llm_s: float = 0.0, shadow: bool = False) -> RoutedGeneration:
        latency = (time.perf_counter() - start) * 1000.0
        agreement = None
        if shadow and outcome is not None:
            agreement = (outcome.generation is not None
                         and self._agrees(outcome.generation, generation, call.tools))
        model_name = (self._specialists[decision.task].name if route == "specialist"
                      else self._llm.name)
        fallback = (outcome.reason if outcome is not None and outcome.generation is None
                    and route == "llm" and not shadow else None)
        answer = routed(generation, decision, route, call, outcome, model_name, latency,
                        fallback, agreement)
        model_ms = llm_s * 1000.0 + (outcome.model_ms if outcome is not None and not shadow
                                     else 0.0)
        self._stats.add(CallOutcome(
            route=route, task=decision.task, reason=decision.reason,
            fallback_reason=fallback,
            specialist_calls=outcome.attempts if outcome is not None else 0,
            retried=outcome.retried if outcome is not None else False,
            retry_served=route == "specialist" and outcome is not None and outcome.retried,
            specialist_tokens=outcome_tokens(outcome),
            llm_tokens=generation_tokens(generation, call) if route == "llm" else (0.0, 0.0),
            served_tokens=(generation_tokens(generation, call) if route == "specialist"
                           else (0.0, 0.0)),
            shadow_agreement=agreement if shadow else None,
            overhead_ms=max(0.0, latency - model_ms)))
        self._remember(call, decision, route if not shadow else decision.route)
        capture(self.recorder, call, decision, answer, outcome, started_at, latency,
                shadow=outcome.generation if shadow and outcome is not None else None,
                served_model=model_name)
        return answer

    def _agrees(self, answer: Generation, reference: Generation, tools: Any) -> bool:
        if self.agreement is not None:
            return bool(self.agreement(answer, reference))
        return answers_agree(answer, reference, tools)

    # ------------------------------------------------------------------ streaming
    def stream(self, messages: Any, tools: Any = None, *, trace_id: str | None = None,
               call_id: str | None = None, agent: str | None = None) -> Any:
        """Answer as text chunks. A specialist's answer is checked before anything is emitted;
        the LLM streams natively when it can. Tool calls come as ``<tool_call>`` blocks."""
        from .streaming import stream

        return stream(self, messages, tools, trace_id, call_id, agent)

    def astream(self, messages: Any, tools: Any = None, *, trace_id: str | None = None,
                call_id: str | None = None, agent: str | None = None) -> Any:
        """Async :meth:`stream`."""
        from .streaming import astream

        return astream(self, messages, tools, trace_id, call_id, agent)

    # ------------------------------------------------------------------ reporting
    def stats(self, prices: Any = None) -> RouterStats:
        """Counters since creation (or :meth:`reset_stats`), priced at ``prices`` (default: the
        router's)."""
        return self._stats.snapshot(as_prices(prices) if prices is not None else self.prices)

    def reset_stats(self) -> None:
        """Start counting afresh."""
        self._stats.reset()

    def calibrate(self, examples: Any, target_agreement: float | None = 0.95, *,
                  target_llm_share: float | None = None, budget: float | None = None,
                  scope: str = "overall", prices: Any = None, apply: bool = True,
                  min_examples: int = 5, confidence_level: float | None = None) -> Any:
        """Choose per-task thresholds from logged calls with the LLM's answers as reference.

        See :func:`slm_agents.route.calibration.calibrate`; returns a ``CalibrationResult``
        with the share-vs-agreement curve, and (``apply=True``) sets :attr:`thresholds`.
        """
        from .calibration import calibrate

        return calibrate(self, examples, target_agreement=target_agreement,
                         target_llm_share=target_llm_share, budget=budget, scope=scope,
                         prices=prices, apply=apply, min_examples=min_examples,
                         confidence_level=confidence_level)

    # ------------------------------------------------------------------ frameworks
    def as_langchain(self, **kwargs: Any) -> Any:
        """The router as a LangChain ``BaseChatModel`` (``bind_tools``, streaming, async)."""
        from .adapters import router_as_langchain

        return router_as_langchain(self, **kwargs)

    def as_llama_index(self, **kwargs: Any) -> Any:
        """The router as a LlamaIndex function-calling LLM."""
        from .adapters import router_as_llama_index

        return router_as_llama_index(self, **kwargs)

    def as_tool(self, task: Any, name: str | None = None, description: str | None = None,
                framework: str = "langchain") -> Any:
        """A task's specialist as a tool a larger model calls (a LangChain ``StructuredTool`` or
        a LlamaIndex ``FunctionTool``): a request string in, the specialist's answer out."""
        from .adapters import specialist_as_tool

        key = self._resolve(task)
        if key not in self.specialists:
            raise ConfigError(f"no specialist for task {task!r}; tasks with one: "
                              f"{sorted(map(str, self.specialists))}")
        return specialist_as_tool(
            self.specialists[key], name or f"{key}_specialist",
            description or f"Ask the specialist for the task {key!r}.", framework=framework)

    def close(self) -> None:
        """Release the worker threads (a running specialist call is not interrupted)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> Router:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"Router(llm={self._llm.name!r}, specialists={sorted(map(str, self.specialists))},"
                f" policy={type(self._policy).__name__})")
