"""Open-loop load against the real bot (a subprocess) through the fake Discord on 127.0.0.1.

Arrival ``i`` is scheduled at ``t0 + i / rate`` on an absolute clock and every latency is
measured from that *intended* arrival, so a slow bot cannot slow the driver down and hide its
backlog (coordinated omission). For each interaction the fake records when the bot
acknowledged it (the interaction callback) and when the answer was complete (the callback
itself for an immediate reply; the edit of ``@original`` or a follow-up for a deferred one).
The bot's event-loop lag comes from the probe that ``tests/reliability/site`` injects
(``LOOP_LAG_FILE``); the bot itself is not modified.

Used by ``tests/reliability/test_d2_load.py`` (bounded) and ``scripts/load_test.py`` (full).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import math
import random
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from tests.fakediscord import FakeDiscord, InteractionHandle
from tests.fakediscord import payloads as p

from .support import launch_bot

DEADLINE = 3.0  # Discord invalidates an interaction not acknowledged within 3 s
BUSY_TEXT = "answering a lot of questions"  # bot/discord_app/flows.py BUSY
QUESTIONS = (
    "When did the fighting erupt?",
    "Who brokered the ceasefire?",
    "What did Pompeo say?",
    "How many people might have been killed?",
    "Where will the foreign ministers meet?",
    "Who is Armenia's prime minister?",
    "What did Aliyev say about the truce?",
    "What is Nagorno-Karabakh?",
    "What did Turkey call for?",
    "When was the humanitarian truce agreed?",
)


def build_corpus(folder: Path, article: Path, passages: int) -> list[Path]:
    """The article plus filler documents, so the index has about ``passages`` passages."""
    sources = [article]
    rng = random.Random(7)
    vocabulary = [f"{a}{b}{c}" for a in "bdfgklmnprst" for b in "aeiou" for c in ("n", "r", "s", "l", "th")]
    per_file = 2000
    remaining = max(0, passages - 20)
    n = 0
    while remaining > 0:
        count = min(per_file, remaining)
        paragraphs = (
            " ".join(rng.choice(vocabulary) for _ in range(rng.randint(120, 190))).capitalize() + "."
            for _ in range(count)
        )
        path = folder / f"filler-{n}.txt"
        path.write_text(f"Filler {n}\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
        sources.append(path)
        remaining -= count
        n += 1
    return sources


@dataclass
class Sent:
    handle: InteractionHandle
    intended: float


@dataclass
class Phase:
    """What one phase of load measured (latencies in seconds from the intended arrival)."""

    name: str
    offered_rate: float
    sent: int
    acked_in_time: int
    answered: int
    busy: int
    other: int  # an ack, but neither an answer nor "busy" (an error message)
    lost: int  # no acknowledgement, a rejected one, or a deferral never filled
    ack_p50: float
    ack_p99: float
    ack_max: float
    answer_p50: float
    answer_p99: float
    answer_max: float
    answer_rate: float  # answers per second over the phase
    duration: float
    send_lag_max: float  # how far behind schedule the driver itself fell (should be ~0)
    loop_lag_max: float | None = None
    loop_lag_p99: float | None = None
    loop_stalls_over_100ms: int | None = None
    bot_cpu: float | None = None  # % of one core the bot process used over the phase
    fake_cpu: float | None = None  # % of one core this process (fake Discord + driver) used
    problems: list[str] = field(default_factory=list)

    def row(self) -> str:
        lag = "-" if self.loop_lag_max is None else f"{self.loop_lag_p99 * 1000:.0f}/{self.loop_lag_max * 1000:.0f}"
        return (
            f"{self.name:<22} {self.offered_rate:>7.1f} {self.sent:>6} {self.answered:>6} {self.busy:>5} "
            f"{self.lost:>5} {self.ack_p50 * 1000:>8.0f} {self.ack_p99 * 1000:>8.0f} {self.ack_max * 1000:>8.0f} "
            f"{self.answer_p50 * 1000:>8.0f} {self.answer_p99 * 1000:>8.0f} {self.answer_rate:>7.1f} {lag:>10} "
            f"{self.bot_cpu or 0:>4.0f}/{self.fake_cpu or 0:<4.0f}"
        )

    @staticmethod
    def header() -> str:
        return (
            f"{'phase':<22} {'rate/s':>7} {'sent':>6} {'answer':>6} {'busy':>5} {'lost':>5} "
            f"{'ack p50':>8} {'ack p99':>8} {'ack max':>8} {'ans p50':>8} {'ans p99':>8} {'ans/s':>7} "
            f"{'lag p99/max':>10} {'cpu bot/fake':>9}"
        )


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


class LoadBot:
    """A bot subprocess over a given index, with its loop-lag probe, behind one fake Discord."""

    def __init__(self, fake: FakeDiscord, workdir: Path, sources: Sequence[Path], **settings: str) -> None:
        self.fake = fake
        self.lag_file = workdir / "loop-lag.jsonl"
        self.proc = launch_bot(
            fake,
            workdir,
            "load-bot",
            sources,
            LOOP_LAG_FILE=str(self.lag_file),
            LOG_LEVEL="WARNING",
            **settings,
        )
        self._user = 0
        self.cpu = (psutil.Process(self.proc.pid), psutil.Process())

    def payload(self, question: str) -> dict[str, Any]:
        """An /ask from a new member each time (per-user cooldowns never apply)."""
        self._user += 1
        return p.slash_command("ask", {"question": question}, user=p.user(p.new_snowflake(), f"load{self._user}"))

    def loop_lag(self, since: float, until: float) -> tuple[float | None, float | None, int | None]:
        """(p99 of the per-second p99s, max, stalls over 100 ms) of the bot's event loop in a window."""
        if not self.lag_file.exists():
            return None, None, None
        lines = [json.loads(line) for line in self.lag_file.read_text(encoding="utf-8").splitlines() if line]
        window = [x for x in lines if since <= x["t"] <= until + 1.5]
        if not window:
            return None, None, None
        return max(x["p99"] for x in window), max(x["max"] for x in window), sum(x["over_100ms"] for x in window)

    def stop(self) -> int | None:
        self.fake.unwatch(self.proc)
        return self.proc.stop(grace=10)


_sequence = itertools.count()


def _snowflake_at(wall: float) -> int:
    """A unique snowflake whose timestamp is ``wall`` (seconds since 1970), as Discord would mint it."""
    return ((int(wall * 1000) - p.DISCORD_EPOCH_MS) << 22) | (next(_sequence) & 0x3FFFFF)


_SERIAL = itertools.count(1)


def drive(bot: LoadBot, name: str, rate: float, count: int, settle: float = 15.0, *, distinct: bool = False) -> Phase:
    """Send ``count`` /ask interactions at ``rate`` per second (``math.inf``: all at once), then measure.

    The schedule runs inside the fake's own event loop (one coroutine sleeping until each
    arrival), so the driver keeps up with hundreds of arrivals per second; every interaction is
    prepared (command completed) before the clock starts; its id is minted from its intended
    arrival time when it is dispatched, as Discord mints ids when interactions are created.
    """
    fake = bot.fake
    prepared = []
    for i in range(count):
        question = QUESTIONS[i % len(QUESTIONS)]
        if distinct:  # every question new to the bot, so nothing it remembers (embeddings) helps
            question = f"{question} [{next(_SERIAL)}]"
        data = copy.deepcopy(bot.payload(question))
        fake._complete_command(data, False)
        prepared.append(data)
    for process in bot.cpu:
        process.cpu_percent()  # start the per-phase CPU measurement
    t0 = time.monotonic() + 0.1
    intended = [t0 if math.isinf(rate) else t0 + i / rate for i in range(count)]
    to_wall = time.time() - time.monotonic()
    records: list[Any] = []

    async def schedule() -> float:
        lag = 0.0
        for data, when in zip(prepared, intended, strict=True):
            delay = when - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)  # the arrival schedule itself (open loop)
            lag = max(lag, time.monotonic() - when)
            # Discord mints an interaction's id when it is created: here, its intended arrival.
            data["id"] = str(_snowflake_at(when + to_wall))
            record = fake._register_interaction(data)
            records.append(record)
            with fake._core.changing():
                record.dispatched_at = time.monotonic()
            await fake._gateway.dispatch("INTERACTION_CREATE", data)
        return lag

    send_lag = fake._call(schedule(), timeout=count / (rate if not math.isinf(rate) else 1e9) + 60)
    sent = [
        Sent(InteractionHandle(r.id, r.token, d, fake), when)
        for d, r, when in zip(prepared, records, intended, strict=True)
    ]
    deadline = time.monotonic() + settle
    for s in sent:
        with contextlib.suppress(AssertionError):  # not answered in time: counted as lost below
            s.handle.wait(timeout=max(0.1, deadline - time.monotonic()))
    phase = _measure(bot, name, rate, sent, t0, send_lag)
    phase.bot_cpu, phase.fake_cpu = (process.cpu_percent() for process in bot.cpu)
    return phase


def _completion_times(fake: FakeDiscord) -> dict[str, float]:
    """When each interaction's answer was complete: first edit of @original or follow-up, by token."""
    done: dict[str, float] = {}
    pattern = re.compile(r"^/webhooks/\d+/([^/]+)(?:/messages/@original)?$")
    for r in fake.requests:
        if r.method in ("PATCH", "POST") and r.status < 300:
            match = pattern.match(r.path)
            if match and match.group(1) not in done:
                done[match.group(1)] = r.at
    return done


def _measure(bot: LoadBot, name: str, rate: float, sent: list[Sent], t0: float, send_lag: float) -> Phase:
    fake = bot.fake
    completions = _completion_times(fake)
    acks: list[float] = []
    answers: list[float] = []
    answered = busy = other = lost = in_time = 0
    last = t0
    for s in sent:
        record = fake._core.interactions[s.handle.id]  # the fake's record: callback time and status
        result = s.handle.result()
        if record.callback_at is None or result.callback_status not in (200, 204):
            lost += 1
            continue
        ack = record.callback_at - s.intended
        acks.append(ack)
        in_time += ack < DEADLINE
        if result.callback_type == p.CALLBACK_DEFERRED_CHANNEL_MESSAGE:
            finished = completions.get(s.handle.token)
            if finished is None:
                lost += 1
                continue
        else:
            finished = record.callback_at
        text = json.dumps(result.messages[-1] if result.messages else {}, ensure_ascii=False)
        if BUSY_TEXT in text:
            busy += 1
        elif '"embeds": [{' in text:
            answered += 1
            answers.append(finished - s.intended)
            last = max(last, finished)
        else:
            other += 1
    lag_p99, lag_max, stalls = bot.loop_lag(t0, last)
    duration = max(1e-9, last - t0)
    phase = Phase(
        name=name,
        offered_rate=rate if not math.isinf(rate) else float(len(sent)),
        sent=len(sent),
        acked_in_time=in_time,
        answered=answered,
        busy=busy,
        other=other,
        lost=lost,
        ack_p50=percentile(acks, 0.5),
        ack_p99=percentile(acks, 0.99),
        ack_max=max(acks) if acks else math.nan,
        answer_p50=percentile(answers, 0.5),
        answer_p99=percentile(answers, 0.99),
        answer_max=max(answers) if answers else math.nan,
        answer_rate=answered / duration,
        duration=duration,
        send_lag_max=send_lag,
        loop_lag_max=lag_max,
        loop_lag_p99=lag_p99,
        loop_stalls_over_100ms=stalls,
    )
    if phase.lost:
        phase.problems.append(f"{phase.lost} interaction(s) never acknowledged or never answered")
    if phase.acked_in_time != len(sent) - phase.lost:
        phase.problems.append(f"{len(sent) - phase.lost - phase.acked_in_time} acknowledged after {DEADLINE} s")
    if phase.other:
        phase.problems.append(f"{phase.other} reply(ies) neither an answer nor 'busy'")
    return phase


def to_json(phases: Sequence[Phase], **context: Any) -> dict[str, Any]:
    return {**context, "phases": [asdict(ph) for ph in phases]}
