"""PIIScrubber end to end: texts, records, pseudonym consistency, caching, batching, failures."""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("presidio_analyzer")

from slm_agents.curate.pseudonyms import luhn_valid  # noqa: E402
from slm_agents.curate.scrubber import PIIScrubber, RecordScrubError  # noqa: E402
from slm_agents.errors import ConfigError, MissingDependencyError, ScrubError  # noqa: E402
from slm_agents.records import CallRecord, Message, ToolCall  # noqa: E402

KEY = "test-key"
SYSTEM = ("You are the support agent of Northwind. Verify the customer before changing orders. "
          "Never reveal internal notes. Use lookup_customer before answering. " * 5)
TOOLS = [{"type": "function", "function": {
    "name": "lookup_customer", "description": "Find a customer by email or phone (e.g. "
    "jane@example.com)", "parameters": {"type": "object", "properties": {
        "email": {"type": "string", "description": "The customer's e-mail"},
        "phone": {"type": "string"}}, "required": ["email"]}}}]


@pytest.fixture(scope="module")
def scrubber() -> Iterator[PIIScrubber]:
    scrubber = PIIScrubber(key=KEY)
    scrubber.detect("warm up")
    yield scrubber


def support_record(i: int, name: str, email: str, phone: str) -> CallRecord:
    result = {"customer": {"id": f"CUST-{1000 + i}", "name": name, "email": email,
                           "phone": phone, "tier": "gold"}}
    return CallRecord(
        id=f"rec-{i}", trace_id=f"trace-{i}", tools=TOOLS,
        messages=[
            Message(role="system", content=SYSTEM),
            Message(role="user", content=f"Hi, I'm {name}, my email is {email}. Call {phone}."),
            Message(role="assistant", tool_calls=[ToolCall(
                name="lookup_customer", id=f"call_{i}", arguments={"email": email,
                                                                   "phone": phone})]),
            Message(role="tool", tool_call_id=f"call_{i}", name="lookup_customer",
                    content=json.dumps(result)),
        ],
        output=f"Thanks {name.split()[0]}, I found your account ({email}).")


def test_detect_returns_spans_sorted_by_start(scrubber: PIIScrubber) -> None:
    text = "Call (415) 555-2671 or mail john.smith@acme.com, says John Smith."
    spans = scrubber.detect(text)
    assert [s.entity_type for s in spans] == ["PHONE_NUMBER", "EMAIL_ADDRESS", "PERSON"]
    assert [s.start for s in spans] == sorted(s.start for s in spans)
    assert all(text[s.start:s.end] == s.text for s in spans)


def test_placeholder_mode_writes_typed_placeholders() -> None:
    scrubber = PIIScrubber(mode="placeholder")
    out = scrubber.scrub("Mail jane.doe@example.org, card 4111 1111 1111 1111.")
    assert out == "Mail <EMAIL_ADDRESS>, card <CREDIT_CARD>."


def test_entity_counts_count_each_replaced_value(scrubber: PIIScrubber) -> None:
    fresh = PIIScrubber(key=KEY, mode="placeholder")
    fresh.scrub_many(["a@acme.com and b@acme.com", "a@acme.com", "nothing here"])
    assert fresh.entity_counts["EMAIL_ADDRESS"] == 3
    fresh.scrub("a@acme.com")  # served from the cache, still counted
    assert fresh.entity_counts["EMAIL_ADDRESS"] == 4


def test_pseudonyms_are_consistent_within_and_across_records(scrubber: PIIScrubber) -> None:
    records = [support_record(i, "Maria Garcia", "maria.garcia@acme.com", "(415) 555-2671")
               for i in range(3)]
    out = scrubber.scrub_records(records)
    emails = {json.loads(r.messages[3].content or "")["customer"]["email"] for r in out}
    assert len(emails) == 1
    email = emails.pop()
    assert email != "maria.garcia@acme.com" and email.endswith(("example.com", "example.org",
                                                                "example.net"))
    for r in out:
        assert r.messages[2].tool_calls[0].arguments["email"] == email
        assert email in (r.messages[1].content or "") and email in (r.output or "")
    # another scrubber with the same key agrees; another key does not
    again = PIIScrubber(key=KEY).scrub_records(records[:1])[0]
    other = PIIScrubber(key="another key").scrub_records(records[:1])[0]
    assert again.messages[2].tool_calls[0].arguments["email"] == email
    assert other.messages[2].tool_calls[0].arguments["email"] != email


def test_without_a_key_each_scrubber_draws_its_own() -> None:
    a, b = PIIScrubber(mode="pseudonym"), PIIScrubber(mode="pseudonym")
    text = "mail maria.garcia@acme.com"
    assert a.scrub(text) == a.scrub(text)
    assert a.scrub(text) != b.scrub(text)


def test_scrubbed_record_keeps_json_valid_and_schemas_and_names_untouched(
        scrubber: PIIScrubber) -> None:
    record = support_record(7, "Maria Garcia", "maria.garcia@acme.com", "(415) 555-2671")
    out = scrubber.scrub_record(record)
    assert out.tools == TOOLS and out.tool_names == ["lookup_customer"]
    assert (out.id, out.trace_id) == ("rec-7", "trace-7")
    assert [m.role for m in out.messages] == ["system", "user", "assistant", "tool"]
    call = out.messages[2].tool_calls[0]
    assert (call.name, call.id) == ("lookup_customer", "call_7")
    assert set(call.arguments) == {"email", "phone"}
    result = json.loads(out.messages[3].content or "")
    assert set(result["customer"]) == {"id", "name", "email", "phone", "tier"}
    assert result["customer"]["tier"] == "gold" and result["customer"]["id"] == "CUST-1007"
    assert out.messages[3].name == "lookup_customer"
    dumped = out.to_json()
    for value in ("Maria", "Garcia", "maria.garcia@acme.com", "555-2671"):
        assert value not in dumped.replace(json.dumps(TOOLS), "")
    assert record.messages[1].content and "Maria Garcia" in record.messages[1].content


def test_card_numbers_in_tool_arguments_stay_valid(scrubber: PIIScrubber) -> None:
    record = CallRecord(messages=[Message(role="assistant", tool_calls=[ToolCall(
        name="charge", arguments={"card_number": "4111 1111 1111 1111", "amount": 12.5})])])
    args = scrubber.scrub_record(record).messages[0].tool_calls[0].arguments
    assert args["amount"] == 12.5
    assert args["card_number"] != "4111 1111 1111 1111" and luhn_valid(args["card_number"])


def test_a_repeated_system_prompt_is_analysed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    scrubber = PIIScrubber(key=KEY, n_process=1)  # the spy sees this process's engine only
    engine = scrubber._get_engine()
    analysed: list[tuple[str, tuple[str, ...]]] = []
    calls = 0
    real = engine.analyze

    def spy(items: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        analysed.extend(items)
        return real(items, **kwargs)

    monkeypatch.setattr(engine, "analyze", spy)
    records = [support_record(i, f"Person{i} Test", f"p{i}@acme.com", "(415) 555-2671")
               for i in range(20)]
    scrubber.scrub_records(records[:10])
    scrubber.scrub_records(records[10:])
    assert calls == 2  # one batched analysis per scrub_records call
    texts = [text for text, _ in analysed]
    assert texts.count(SYSTEM) == 1  # cached after the first batch
    # each distinct (text, JSON-key context) once, across both batches: the phone number sits
    # in the user message, under "phone" in the arguments and under customer/phone in the result
    assert len(analysed) == len(set(analysed))
    assert texts.count("(415) 555-2671") == 2


def test_ner_is_skipped_for_texts_that_cannot_hold_a_name(monkeypatch: pytest.MonkeyPatch) -> None:
    scrubber = PIIScrubber(key=KEY)
    nlp_engine = scrubber._get_engine().nlp_engine
    seen: list[str] = []
    real = nlp_engine.process_batch

    def spy(texts: list[str], *args: Any, **kwargs: Any) -> Any:
        seen.extend(texts)
        return real(texts, *args, **kwargs)

    monkeypatch.setattr(nlp_engine, "process_batch", spy)
    out = scrubber.scrub_many(["4111 1111 1111 1111", "no capitals here", "ORD-12345",
                               "Maria Garcia called"])
    assert seen == ["Maria Garcia called"]
    assert out[0] != "4111 1111 1111 1111" and "Maria" not in out[3]


def test_cache_is_bounded() -> None:
    scrubber = PIIScrubber(mode="placeholder", cache_size=2)
    scrubber.scrub_many(["a@acme.com", "b@acme.com", "c@acme.com"])
    assert len(scrubber._cache) == 2


def test_allow_list_values_are_kept() -> None:
    scrubber = PIIScrubber(mode="placeholder", allow_list=["support@northwind.com"])
    assert scrubber.scrub("write support@northwind.com or a@acme.com") == (
        "write support@northwind.com or <EMAIL_ADDRESS>")


def test_entities_limit_what_is_replaced() -> None:
    scrubber = PIIScrubber(mode="placeholder", entities=["EMAIL_ADDRESS"])
    assert scrubber.supported_entities == ["EMAIL_ADDRESS"]
    assert scrubber.scrub("John Smith, john@acme.com") == "John Smith, <EMAIL_ADDRESS>"


def test_when_engine_fails_then_record_scrubbing_raises_scrub_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    scrubber = PIIScrubber(key=KEY)
    engine = scrubber._get_engine()

    def broken(items: Any, **kwargs: Any) -> Any:
        raise RuntimeError("engine exploded")

    monkeypatch.setattr(engine, "analyze", broken)
    record = support_record(1, "Maria Garcia", "maria@acme.com", "(415) 555-2671")
    with pytest.raises(ScrubError, match="rec-1"):
        scrubber.scrub_record(record)
    with pytest.raises(ScrubError):
        scrubber.scrub("Maria Garcia")


def test_when_one_record_of_a_batch_fails_then_the_others_are_still_scrubbed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    scrubber = PIIScrubber(key=KEY)
    engine = scrubber._get_engine()
    real = engine.analyze

    def picky(items: Any, **kwargs: Any) -> Any:
        if any("POISON" in text for text, _ in items):
            raise ValueError("cannot analyse this")
        return real(items, **kwargs)

    monkeypatch.setattr(engine, "analyze", picky)
    good = [support_record(i, "Maria Garcia", "maria@acme.com", "(415) 555-2671")
            for i in range(3)]
    bad = CallRecord(id="bad", messages=[Message(role="user", content="POISON maria@acme.com")])
    with pytest.raises(RecordScrubError) as caught:
        scrubber.scrub_records([good[0], bad, *good[1:]])
    assert isinstance(caught.value, ScrubError)
    assert caught.value.record_ids == ["bad"]
    assert [r.id for r in caught.value.scrubbed] == ["rec-0", "rec-1", "rec-2"]
    assert all("maria@acme.com" not in r.to_json() for r in caught.value.scrubbed)


def test_invalid_options_raise_config_error_naming_valid_values() -> None:
    with pytest.raises(ConfigError, match="pseudonym"):
        _ = PIIScrubber(mode="blank").supported_entities  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="EMAIL_ADDRESS"):
        _ = PIIScrubber(entities=["NOT_AN_ENTITY"]).supported_entities
    with pytest.raises(ConfigError, match="score_threshold"):
        PIIScrubber(score_threshold=2.0).scrub("x")
    with pytest.raises(ConfigError, match="valid parameters"):
        PIIScrubber().set_params(colour="red")


def test_a_missing_spacy_model_is_never_downloaded() -> None:
    scrubber = PIIScrubber(nlp_model="en_no_such_model_xyz")
    with pytest.raises(MissingDependencyError, match="en_no_such_model_xyz"):
        scrubber.scrub("Maria Garcia")


def test_constructor_only_stores_arguments_and_params_round_trip() -> None:
    scrubber = PIIScrubber(mode="placeholder", entities=["EMAIL_ADDRESS"], cache_size=10)
    assert scrubber._engine is None
    params = scrubber.get_params()
    assert params["mode"] == "placeholder" and params["cache_size"] == 10
    clone = PIIScrubber(**params)
    assert clone.get_params() == params
    assert scrubber.set_params(mode="pseudonym") is scrubber and scrubber.mode == "pseudonym"
    assert "mode" not in repr(scrubber) and "cache_size=10" in repr(scrubber)
    assert "test" not in repr(PIIScrubber(key="test"))  # the key is never shown


def test_sklearn_clone_works() -> None:
    base = pytest.importorskip("sklearn.base")
    clone = base.clone(PIIScrubber(mode="placeholder", batch_size=8))
    assert clone.get_params()["batch_size"] == 8


def test_scrubber_pickles_without_its_engine(scrubber: PIIScrubber) -> None:
    copy = pickle.loads(pickle.dumps(scrubber))
    assert copy._engine is None
    text = "mail maria.garcia@acme.com"
    assert copy.scrub(text) == scrubber.scrub(text)


def test_several_processes_give_the_same_result(scrubber: PIIScrubber) -> None:
    texts = [f"Customer {n} Garcia wrote from user{n}@acme.com, phone (415) 555-{1000 + n}"
             for n in range(40)]
    parallel = PIIScrubber(key=KEY, n_process=2)
    try:
        assert parallel.scrub_many(texts) == scrubber.scrub_many(texts)
        assert parallel._pool is not None
    finally:
        parallel.close()
    assert parallel._pool is None


def test_long_texts_are_analysed_in_pieces_with_the_right_offsets(
        scrubber: PIIScrubber, monkeypatch: pytest.MonkeyPatch) -> None:
    from slm_agents.curate import engine

    monkeypatch.setattr(engine, "MAX_CHUNK_CHARS", 200)
    text = " ".join(f"line {n}: write to user{n}@acme.com about it." for n in range(40))
    spans = PIIScrubber(mode="placeholder").detect(text)
    emails = [s for s in spans if s.entity_type == "EMAIL_ADDRESS"]
    assert len(emails) == 40
    assert all(text[s.start:s.end] == s.text for s in emails)
