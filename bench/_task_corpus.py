"""A labelled benchmark of agent calls with known tasks, for the task-clustering benchmarks.

Six agents (travel, shop support, ticket triage, HR, IT, calendar) serve twelve tasks. Each agent
offers its tools (OpenAI JSON-schema specs) on every call; some tools are offered by several
agents (``send_email``, ``create_ticket``, ``search_kb``, ``get_weather``). A conversation is one
agent run: the user's request (paraphrased from many templates, slots filled with Faker and word
lists, with greetings, asides, typos and register varied), then the model's steps: tool calls,
tool results, and a final text answer. Every model call of a run is a record; later calls carry
the earlier tool calls and results. Some runs continue a conversation that began with another
task of the same agent, so the earlier turns are in the context. System prompts have variable
parts (dates, names, ids) and two versions per agent. Task volumes are imbalanced (the largest
task is several times the smallest).

Hard pairs, by design: ``search_flights`` and ``change_booking`` (same agent, prompt and tools),
``order_status`` and ``refund_request`` (same agent, overlapping wording), ``ticket_summary``
and ``ticket_classify`` (same agent, same prompt, no tools, text output, the same kind of
tickets; only the instruction differs), ``leave_request`` and ``policy_question`` ("how many days
do I have left" vs "how many days do we get"), ``password_reset`` and ``it_ticket``, and
``weather_lookup`` served by two agents with different prompts.

A call's task is the user intent of its run, also for the later calls of the run (the ones after
a tool result), since a specialist replacing the task would make all of them.

    >>> calls = generate_tasks(50, seed=1)
    >>> len(calls), calls[0].record.agent in AGENTS, calls[0].task in TASKS
    (50, True, True)
"""

from __future__ import annotations

import json
import math
import random
import re
import string
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

import _task_corpus_data as D
from faker import Faker

from slm_agents.records import CallRecord, Message, ToolCall, Usage

__all__ = ["AGENTS", "TASKS", "LabelledCall", "generate_tasks", "user_text"]

AGENTS = tuple(D.AGENTS)
TASKS = tuple(dict.fromkeys(t for a in D.AGENTS.values() for t in a["tasks"]))


@dataclass(frozen=True)
class LabelledCall:
    """One generated call and its true task. ``step`` is the call's place in its run (0 = the
    first model call, answering the user's message; later steps follow tool results)."""

    record: CallRecord
    task: str
    step: int = 0


def user_text(record: CallRecord) -> str:
    """The user-visible text of a call: its user turns, concatenated (what a text-only
    topic model sees)."""
    return "\n".join(m.content for m in record.messages if m.role == "user" and m.content)


# --------------------------------------------------------------------------- text helpers
_SLOT = re.compile(r"\{(\w+)\}")
_ALT = re.compile(r"\{([^{}]*\|[^{}]*)\}")
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _fill(template: str, slots: dict[str, Any], rng: random.Random) -> str:
    text = _SLOT.sub(lambda m: str(slots[m.group(1)]), template)
    text = _ALT.sub(lambda m: rng.choice(m.group(1).split("|")), text)
    text = re.sub(r" {2,}", " ", text)
    return re.sub(r" ([?.,!])", r"\1", text).strip()


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def _date_text(d: date, today: date, rng: random.Random, prep: bool) -> str:
    """How people write a date: relative, spelled out, numeric or ISO; with "on" when ``prep``."""
    delta = (d - today).days
    month, day, wd = _MONTHS[d.month - 1], d.day, _DAYS[d.weekday()]
    bare = [d.isoformat(), f"{day} {month}", f"{month} {_ordinal(day)}", f"the {_ordinal(day)}",
            f"{day:02d}/{d.month:02d}", f"{wd} {day} {month[:3]}", f"{month[:3]} {day}"]
    options = [(f"on {b}" if prep and not b[0].isdigit() or prep and rng.random() < 0.5 else b)
               for b in bare]
    if delta == 0:
        options += ["today"] * 3
    elif delta == 1:
        options += ["tomorrow"] * 3
    elif delta < 7:
        options += [f"{'on ' if prep else ''}{wd}", f"this {wd}"]
    elif delta < 14:
        options += [f"next {wd}"] * 2
    return rng.choice(options)


def _typos(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    for i, w in enumerate(words):
        if len(w) > 3 and w.isalpha() and rng.random() < 0.06:
            j = rng.randrange(1, len(w) - 1)
            kind = rng.random()
            if kind < 0.4:
                w = w[:j - 1] + w[j] + w[j - 1] + w[j + 1:]
            elif kind < 0.7:
                w = w[:j] + w[j + 1:]
            else:
                w = w[:j] + w[j] + w[j:]
            words[i] = w
    return " ".join(words)


def _voice(main: str, slots: dict[str, Any], rng: random.Random) -> str:
    """Wrap a request the way people write it: greeting, aside, closing, case, typos."""
    parts = []
    if rng.random() < 0.3:
        parts.append(rng.choice(D.PHRASES["greeting"]))
    if rng.random() < 0.08:
        parts.append(rng.choice(D.PHRASES["aside"]))
    parts.append(main[0].upper() + main[1:] if rng.random() < 0.7 else main)
    if rng.random() < 0.25:
        parts.append(_fill(rng.choice(D.PHRASES["closing"]), slots, rng))
    text = (" " if rng.random() < 0.7 else "\n").join(parts)
    r = rng.random()
    if r < 0.12:
        text = text.lower()
    elif r < 0.2:
        text = text.rstrip(".!?")
    if rng.random() < 0.25:
        text = _typos(text, rng)
    return text


# --------------------------------------------------------------------------- people and slots
class _Person:
    def __init__(self, fk: Faker, rng: random.Random) -> None:
        self.first, self.last = fk.first_name(), fk.last_name()
        self.name = f"{self.first} {self.last}"
        low = re.sub(r"[^a-z]", "", (self.first[0] + self.last).lower()) or "user"
        self.username = f"{low}{rng.randint(1, 99) if rng.random() < 0.4 else ''}"
        self.email = f"{low}@{rng.choice(['gmail.com', 'outlook.com', 'yahoo.com', 'proton.me'])}"
        self.ids = {
            "loyalty_id": f"SK{rng.randint(10**7, 10**8 - 1)}",
            "customer_id": f"C-{rng.randint(10**5, 10**6 - 1)}",
            "employee_id": f"E{rng.randint(10000, 99999)}",
            "device_id": f"LT-{rng.randint(1000, 9999)}",
        }
        self.tier = rng.choice(D.TIERS)
        self.home = rng.choice(D.AIRPORTS)
        self.department = rng.choice(D.DEPARTMENTS)
        self.company = rng.choice(D.COMPANIES)


def _ref(rng: random.Random, n: int = 6) -> str:
    return "".join(rng.choice(string.ascii_uppercase + "23456789") for _ in range(n))


def _slots(p: _Person, today: date, fk: Faker, rng: random.Random) -> dict[str, Any]:
    """Every slot value any template may use, drawn once per conversation."""
    d = today + timedelta(days=rng.choice([0, 1, 1, 2, 3, 5, 6, 9, 12, 20, 34, 60]))
    ret = d + timedelta(days=rng.randint(2, 14))
    odate = today - timedelta(days=rng.randint(2, 30))
    origin, dest = rng.sample(D.AIRPORTS, 2)
    other = fk.name()
    names = [fk.first_name() for _ in range(rng.randint(1, 3))]
    days = rng.randint(1, 10)
    amount = round(rng.uniform(8, 400), 2)
    duration, minutes = rng.choice([("30-minute", 30), ("45 min", 45), ("an hour", 60),
                                    ("half an hour", 30), ("1h", 60), ("15-minute", 15)])
    return {
        "first": p.first, "last": p.last, "name": other, "email": p.email,
        "origin": origin, "dest": dest, "date": _date_text(d, today, rng, True),
        "date_iso": d.isoformat(), "ret": _date_text(ret, today, rng, False),
        "ret_iso": ret.isoformat(), "pax": rng.choice([1, 2, 2, 3, 4, 5]),
        "cabin": rng.choice(D.CABINS), "ref": _ref(rng), "seat": rng.choice(D.SEATS),
        "flight": f"{rng.choice(['SK', 'LH', 'BA', 'UA', 'KL'])}{rng.randint(100, 2999)}",
        "city": rng.choice(D.CITIES), "order": f"{rng.choice(['', 'A', 'NW-'])}"
        f"{rng.randint(10**6, 10**7 - 1)}", "product": rng.choice(D.PRODUCTS),
        "odate": _date_text(odate, today, rng, True), "defect": rng.choice(D.DEFECTS),
        "amount": rng.choice([f"${amount}", f"{amount} EUR", f"£{amount:.0f}", f"{amount}"]),
        "amount_num": amount, "n": rng.randint(2, 12), "days": days,
        "start": _date_text(d, today, rng, False), "start_iso": d.isoformat(),
        "end": _date_text(d + timedelta(days=days), today, rng, False),
        "end_iso": (d + timedelta(days=days)).isoformat(), "month": _MONTHS[d.month - 1],
        "expense": rng.choice(D.EXPENSES), "holiday": rng.choice(D.HOLIDAYS),
        "country": rng.choice(D.COUNTRIES), "system": rng.choice(D.SYSTEMS),
        "username": p.username, "software": rng.choice(D.SOFTWARE), "room": rng.randint(1, 40),
        "department": p.department, "names": " and ".join([", ".join(names[:-1]), names[-1]])
        if len(names) > 1 else names[0], "attendees": names,
        "duration": duration, "minutes": minutes, "topic": rng.choice(D.TOPICS),
        "time": f"{rng.randint(9, 17):02d}:{rng.choice(['00', '30'])}", "company": fk.company(),
        "team": rng.choice(D.TEAMS), "manager": f"{fk.first_name()} {fk.last_name()}",
        "currency": rng.choice(["EUR", "USD", "GBP"]), "wallet": rng.choice(D.WALLETS),
    }


# --------------------------------------------------------------------------- runs (plans)
Step = tuple[str, Any, Any]  # ("tool", name, args) with result, or ("text", text, None)


def _tool(name: str, args: dict[str, Any], result: dict[str, Any]) -> Step:
    return ("tool", (name, {k: v for k, v in args.items() if v is not None}), result)


def _results(s: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """What the tools return in one run; the final answer quotes the same values."""
    return {
        "k": rng.randint(2, 9), "price": rng.randint(49, 900), "airline": rng.choice(D.AIRLINES),
        "dep_time": f"{rng.randint(6, 21):02d}:{rng.choice(['05', '35', '50'])}",
        "origin_code": s["origin"][:3].upper(), "dest_code": s["dest"][:3].upper(),
        "flight_list": "\n".join(f"- {rng.choice(D.AIRLINES)} {rng.randint(100, 999)}, "
                                 f"{rng.randint(6, 21):02d}:00, {rng.randint(49, 900)}"
                                 for _ in range(rng.randint(2, 4))),
        "stops": rng.choice(["direct", "1 stop"]), "fee": rng.choice([0, 45, 80]),
        "change_note": f"You now fly on {s['date_iso']}.", "weather": rng.choice(D.WEATHER),
        "high": rng.randint(-3, 33), "low": rng.randint(-10, 15), "rain": rng.randint(0, 90),
        "pack_tip": rng.choice(["Bring an umbrella.", "A light jacket should do.", ""]),
        "status": rng.choice(D.ORDER_STATUSES), "carrier": rng.choice(D.CARRIERS),
        "tracking": _ref(rng, 12), "eta_note": rng.choice(["It should arrive within 2 days.",
                                                           "", "Expected delivery: tomorrow."]),
        "refund_id": _ref(rng), "ticket_id": f"T-{rng.randint(10000, 99999)}",
        "request_id": _ref(rng, 8), "left": rng.randint(0, 20), "policy": rng.choice(D.POLICIES),
        "section": f"section {rng.randint(1, 9)}.{rng.randint(1, 9)}",
        "answer": rng.choice(D.PHRASES["policy_answer"]), "priority": rng.choice(["low", "high"]),
        "eta": rng.choice(["today", "within 4 hours", "tomorrow morning"]),
        "kb_title": rng.choice(D.KB_TITLES), "title": s["topic"].capitalize(),
        "slot": f"{s['date_iso']} at {s['time']}", "event_id": _ref(rng, 10),
    }


def _plan(task: str, tpl: str, main: str, s: dict[str, Any], rng: random.Random) -> list[Step]:
    """The model's steps for one run of ``task``; ``tpl`` is the user's template (what it
    mentions decides what the model can do without asking), ``main`` the request as filled."""
    r = rng.random()

    def has(slot: str) -> bool:
        return "{" + slot + "}" in tpl

    if f"clarify:{task}" in D.PHRASES and (
            r < 0.08 or task in ("order_status", "refund_request") and not has("order")
            or task == "password_reset" and not has("username") and r < 0.5):
        return [("text", rng.choice(D.PHRASES[f"clarify:{task}"]), None)]
    x = {**s, **_results(s, rng)}
    final = list(D.FINAL[task])  # the answer templates that fit the steps taken
    steps: list[Step] = []
    if task == "search_flights":
        steps.append(_tool("search_flights", {
            "origin": s["origin"], "destination": s["dest"], "departure_date": s["date_iso"],
            "return_date": s["ret_iso"] if has("ret") else None,
            "passengers": s["pax"] if has("pax") else None,
            "cabin": s["cabin"].split()[0] if has("cabin") else None},
            {"count": x["k"], "cheapest": {"airline": x["airline"], "flight": s["flight"],
                                           "dep": x["dep_time"], "price": x["price"]}}))
    elif task == "change_booking":
        change: dict[str, Any] = {"booking_ref": s["ref"]}
        key = next((k for k in ("seat", "cabin", "name") if has(k)), "date")
        change[{"seat": "seat", "cabin": "cabin", "name": "passenger_name",
                "date": "new_departure_date"}[key]] = s[{"date": "date_iso"}.get(key, key)]
        if key != "date":
            x["change_note"] = f"Updated: {key.replace('name', 'passenger name')} is now {s[key]}."
            final = final[1:]
        if has("flight"):
            change["new_flight_number"] = s["flight"]
        if r < 0.5:
            steps.append(_tool("get_booking", {"booking_ref": s["ref"], "last_name": s["last"]
                                               if has("last") else None},
                               {"ref": s["ref"], "status": "confirmed", "flight": s["flight"],
                                "route": f"{x['origin_code']}-{x['dest_code']}"}))
        steps.append(_tool("change_booking", change, {"ok": True, "fee": x["fee"]}))
    elif task == "weather_lookup":
        steps.append(_tool("get_weather", {"location": s["city"], "date": s["date_iso"]}, {
            "summary": x["weather"], "high_c": x["high"], "low_c": x["low"],
            "precip_prob": x["rain"]}))
    elif task == "order_status":
        steps.append(_tool("lookup_order", {"order_id": s["order"]}, {
            "status": x["status"], "carrier": x["carrier"], "tracking": x["tracking"],
            "items": [s["product"]]}))
    elif task == "refund_request":
        if r < 0.45:
            steps.append(_tool("lookup_order", {"order_id": s["order"]},
                               {"status": "delivered", "total": s["amount_num"]}))
        if r < 0.85:
            reason = s["defect"] if has("defect") else rng.choice(
                ["duplicate charge", "not received", "wrong item", "customer request"])
            steps.append(_tool("issue_refund", {"order_id": s["order"], "amount": s["amount_num"],
                                                "reason": reason}, {"refund_id": x["refund_id"]}))
            final = final[:2]
        else:
            steps.append(_tool("create_ticket", {
                "summary": f"Refund request for order {s['order']}", "category": "refunds",
                "priority": "medium"}, {"ticket_id": x["ticket_id"]}))
            final = final[2:]
    elif task == "leave_request":
        if r < 0.25 or "left" in tpl or "enough" in tpl:
            steps.append(_tool("get_leave_balance", {"employee_id": s["employee_id"]},
                               {"annual": x["left"] + s["days"], "sick": rng.randint(0, 10)}))
        x["leave_type"] = next((k for k in ("sick", "parental", "unpaid") if k in tpl), "annual")
        steps.append(_tool("submit_leave_request", {
            "employee_id": s["employee_id"], "start_date": s["start_iso"],
            "end_date": s["end_iso"], "leave_type": x["leave_type"]},
            {"request_id": x["request_id"], "approver": s["manager"]}))
    elif task == "policy_question":
        steps.append(_tool("search_policy", {"query": main.strip(" ?").lower()[:80]}, {
            "hits": [{"policy": x["policy"], "section": x["section"], "text": x["answer"]}]}))
    elif task == "password_reset":
        x["method"] = "mfa" if "MFA" in tpl else "unlock" if "lock" in tpl else "password"
        steps.append(_tool("reset_password", {"username": s["username"], "system": s["system"],
                                              "method": x["method"]}, {"ok": True}))
        x["method"] = x["method"].replace("mfa", "MFA").replace("unlock", "account lock")
    elif task == "it_ticket":
        if r < 0.4:
            steps.append(_tool("search_kb", {"query": main[:60]}, {"articles": [x["kb_title"]]}))
        if r < 0.3 or r >= 0.4:
            x["priority"] = rng.choice(["low", "medium", "high", "urgent"])
            steps.append(_tool("create_ticket", {
                "summary": main[:80], "category": "it", "priority": x["priority"]},
                {"ticket_id": x["ticket_id"]}))
            final = final[:2]
        else:
            final = final[2:]
    elif task == "schedule_meeting":
        people = [s["name"]] if has("name") else s["attendees"]
        x["attendees_text"] = " and ".join(people)
        if r < 0.7:
            steps.append(_tool("find_free_slots", {
                "attendees": people, "duration_minutes": s["minutes"],
                "earliest": s["date_iso"]}, {"slots": [f"{s['date_iso']}T{s['time']}"]}))
        if r >= 0.15:
            start = datetime.fromisoformat(f"{s['date_iso']}T{s['time']}")
            end = start + timedelta(minutes=s["minutes"])
            steps.append(_tool("create_event", {
                "title": x["title"], "start": start.isoformat(), "end": end.isoformat(),
                "attendees": people}, {"event_id": x["event_id"]}))
            final = final[:2]
        else:
            final = final[2:]
    steps.append(("text", _fill(rng.choice(final), x, rng), None))
    return steps


def _ticket(s: dict[str, Any], fk: Faker, rng: random.Random) -> tuple[str, str]:
    """A customer ticket for triage: its true category and the text (sometimes with headers)."""
    cat = rng.choice(list(D.TICKETS))
    sentences = [_fill(t, s, rng) for t in rng.sample(D.TICKETS[cat], rng.randint(1, 3))]
    mood = rng.choice(D.PHRASES["mood"])
    body = _voice(_fill(" ".join(sentences + [mood]), s, rng), s, rng)
    if rng.random() < 0.5:
        who = fk.name()
        mail = re.sub(r"[^a-z.]", "", who.lower().replace(" ", ".")) + "@example.com"
        body = (f"Ticket #{rng.randint(10**5, 10**6)}\nFrom: {who} <{mail}>\n"
                f"Subject: {sentences[0][:40]}\n\n{body}")
    return cat, body


def _triage(task: str, s: dict[str, Any], fk: Faker, rng: random.Random) -> tuple[str, str]:
    cat, ticket = _ticket(s, fk, rng)
    asks = D.PHRASES["summary_ask" if task == "ticket_summary" else "classify_ask"]
    ask = _fill(rng.choice(asks), s, rng)
    user = (f"{ask}\n\n{ticket}" if rng.random() < 0.75 else f"{ticket}\n\n---\n{ask}")
    if task == "ticket_summary":
        issue, want = D.SUMMARY_BITS[cat]
        out = (f"{rng.choice(['The customer', s['first'], 'Customer'])} "
               f"{rng.choice(issue)} and wants {rng.choice(want)}."
               + (f" Order {s['order']}." if s["order"] in ticket else "")
               + rng.choice(["", " Tone: frustrated.", " No action taken yet."]))
    elif ask.startswith("Categorise") or rng.random() < 0.15:
        out = json.dumps({"category": cat, "priority": rng.choice(["low", "medium", "high"])})
    else:
        label = cat.replace("_", " ").capitalize()
        out = rng.choice([cat, label, f"Category: {cat}",
                          f"{label}\nPriority: {rng.choice(['low', 'high'])}"])
    return user, out


# --------------------------------------------------------------------------- records
def _messages_and_steps(task: str, agent: str, s: dict[str, Any], fk: Faker,
                        rng: random.Random) -> tuple[list[Message], list[Step]]:
    """The user message (with any earlier exchange of the conversation) and the run's steps."""
    if agent == "ticket_triage":
        user, out = _triage(task, s, fk, rng)
        return [Message(role="user", content=user)], [("text", out, None)]
    tpl = rng.choice(D.USER[task])
    main = _fill(tpl, s, rng)
    if rng.random() < 0.1:  # people repeat themselves in a second sentence
        main += " " + _fill(rng.choice(D.USER[task]), s, rng)
    return [Message(role="user", content=_voice(main, s, rng))], _plan(task, tpl, main, s, rng)


def _run_messages(first: list[Message], steps: list[Step], upto: int,
                  ids: list[str]) -> list[Message]:
    msgs = list(first)
    for j in range(upto):
        kind, what, result = steps[j]
        if kind == "tool":
            msgs.append(Message(role="assistant", tool_calls=[
                ToolCall(name=what[0], arguments=what[1], id=ids[j])]))
            msgs.append(Message(role="tool", content=json.dumps(result), tool_call_id=ids[j],
                                name=what[0]))
        else:
            msgs.append(Message(role="assistant", content=what))
    return msgs


def _usage(msgs: list[Message], tools: list[dict], out_chars: int,
           rng: random.Random) -> tuple[Usage, float]:
    chars = sum(len(m.content or "") + 40 * len(m.tool_calls) for m in msgs)
    chars += len(json.dumps(tools))
    inp = math.ceil(chars / 4 * rng.uniform(0.9, 1.1))
    out = max(1, math.ceil(out_chars / 4 * rng.uniform(0.8, 1.2)))
    latency = (250 + 20 * out + 0.04 * inp) * rng.lognormvariate(0, 0.3)
    return Usage(input_tokens=inp, output_tokens=out), round(latency, 1)


def generate_tasks(n_calls: int = 6000, seed: int = 0) -> list[LabelledCall]:
    """``n_calls`` labelled calls, the same for the same ``seed``.

    Runs are drawn by task volume until ``n_calls`` calls exist (the last run may be cut short).
    """
    rng = random.Random(seed)
    fk = Faker(["en_US", "en_GB", "de_DE", "fr_FR"])
    fk.seed_instance(seed)
    people = [_Person(fk, rng) for _ in range(max(50, min(2000, n_calls // 10)))]
    pairs = [(a, t) for a, spec in D.AGENTS.items() for t in spec["tasks"]]
    weights = [D.AGENTS[a]["tasks"][t] for a, t in pairs]
    t0 = datetime(2025, 3, 3, 8, 0, tzinfo=timezone.utc)
    out: list[LabelledCall] = []
    while len(out) < n_calls:
        agent, task = rng.choices(pairs, weights)[0]
        spec = D.AGENTS[agent]
        p = rng.choice(people)
        started = t0 + timedelta(minutes=rng.randint(0, 60 * 24 * 120))
        today = started.date()
        s = _slots(p, today, fk, rng)
        s.update(p.ids)
        version = rng.choice([0, 1])
        system = _fill(D.PROMPTS[agent][version], {
            **s, **p.ids, "user_name": p.name, "user_email": p.email, "tier": p.tier,
            "weekday": _DAYS[today.weekday()], "home_airport": p.home, "company": p.company,
            "today": today.isoformat() if version == 0 else today.strftime("%d %B %Y"),
            "time": started.strftime("%H:%M"), "tz": rng.choice(D.TIMEZONES),
            "session_id": uuid.UUID(int=rng.getrandbits(128), version=4).hex[:12],
            "member_since": rng.randint(2008, 2024), "shop": rng.choice(D.SHOPS),
            "refund_limit": rng.choice([100, 200, 250]), "version": f"2.{rng.randint(0, 9)}",
            "n_orders": rng.randint(1, 60), "batch_id": _ref(rng, 8), "office": rng.choice(
                D.CITIES), "department": p.department}, rng)
        first, steps = _messages_and_steps(task, agent, s, fk, rng)
        history: list[Message] = []
        others = [t for t in spec["tasks"] if t != task]
        if agent != "ticket_triage" and others and rng.random() < 0.15:
            # The run continues a conversation that began with another task of this agent.
            o = rng.choice(others)
            ofirst, osteps = _messages_and_steps(o, agent, s, fk, rng)
            history = _run_messages(ofirst, osteps, len(osteps), [
                f"call_{_ref(rng, 10)}" for _ in osteps])
        tools = [D.TOOLS[name] for name in spec["tools"]]
        ids = [f"call_{_ref(rng, 10)}" for _ in steps]
        trace = uuid.UUID(int=rng.getrandbits(128), version=4)
        for k, (kind, what, _result) in enumerate(steps):
            if k > 0 and rng.random() < 0.5:
                continue  # half of the later calls of runs are kept (sampled tracing)
            msgs = [Message(role="system", content=system), *history,
                    *_run_messages(first, steps, k, ids)]
            if kind == "tool":
                calls, text = [ToolCall(name=what[0], arguments=what[1], id=ids[k])], None
                out_chars = len(json.dumps(what[1])) + 20
            else:
                calls, text, out_chars = [], what, len(what)
            usage, latency = _usage(msgs, tools, out_chars, rng)
            rec = CallRecord(
                id=str(uuid.UUID(int=rng.getrandbits(128), version=4)), trace_id=str(trace),
                agent=agent, model=spec["model"], provider="openai", messages=msgs, tools=tools,
                output=text, tool_calls=calls, usage=usage, latency_ms=latency,
                started_at=started + timedelta(seconds=2 * k),
                finish_reason="tool_calls" if calls else "stop",
                request_params={"temperature": 0.0 if agent == "ticket_triage" else 0.3},
                source="langchain")
            out.append(LabelledCall(record=rec, task=task, step=k))
            if len(out) == n_calls:
                break
    return out
