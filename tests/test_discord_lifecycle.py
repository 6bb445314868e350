"""Shutdown drain: work in flight finishes (bounded), new work is refused, leftovers end quietly."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

import pytest

from bot.discord_app.admin_cog import AdminCog
from bot.discord_app.lifecycle import Lifecycle, Phase
from bot.discord_app.quick import EPHEMERAL, refusal_body


async def handler(lifecycle: Lifecycle, seconds: float, log: list[str]) -> None:
    """A tracked handler that works for ``seconds``."""
    lifecycle.track()
    await asyncio.sleep(seconds)
    log.append(f"done after {seconds}")


def test_drain_waits_for_work_in_flight_and_stops_admitting() -> None:
    async def scenario() -> tuple[int, list[str], list[Phase], float]:
        lifecycle = Lifecycle()
        done: list[str] = []
        tasks = [asyncio.create_task(handler(lifecycle, s, done)) for s in (0.05, 0.2)]
        await asyncio.sleep(0)  # the handlers start and register
        assert lifecycle.in_flight == 2
        began = asyncio.get_running_loop().time()
        draining = asyncio.create_task(lifecycle.drain(bound=5.0, grace=1.0))
        await asyncio.sleep(0)
        phases = [lifecycle.phase]
        cancelled = await draining
        phases.append(lifecycle.phase)
        await asyncio.gather(*tasks)
        return cancelled, done, phases, asyncio.get_running_loop().time() - began

    cancelled, done, phases, took = asyncio.run(scenario())
    assert cancelled == 0
    assert done == ["done after 0.05", "done after 0.2"]
    assert phases == [Phase.DRAINING, Phase.CLOSED]
    assert took < 1.0, "the drain ends as soon as the last handler does, not at the bound"


def test_drain_is_bounded_asks_stragglers_to_hurry_then_cancels_them() -> None:
    async def scenario() -> tuple[int, bool, bool, float]:
        lifecycle = Lifecycle()
        stuck = asyncio.create_task(handler(lifecycle, 60.0, []))
        hurried: list[bool] = []

        async def reports_when_hurried() -> None:
            lifecycle.track()
            await lifecycle.hurry.wait()
            hurried.append(True)

        polite = asyncio.create_task(reports_when_hurried())
        await asyncio.sleep(0)
        began = asyncio.get_running_loop().time()
        cancelled = await lifecycle.drain(bound=0.2, grace=0.2)
        took = asyncio.get_running_loop().time() - began
        await asyncio.gather(stuck, polite, return_exceptions=True)
        return cancelled, stuck.cancelled(), bool(hurried) and polite.done() and not polite.cancelled(), took

    cancelled, stuck_cancelled, polite_finished, took = asyncio.run(scenario())
    assert cancelled == 1 and stuck_cancelled
    assert polite_finished, "a handler told to hurry gets the grace period to finish"
    assert 0.4 <= took < 1.5


def test_tracking_is_idempotent_and_finished_tasks_leave() -> None:
    async def scenario() -> list[int]:
        lifecycle = Lifecycle()

        async def twice() -> None:
            lifecycle.track()
            lifecycle.track()
            await asyncio.sleep(0.01)

        task = asyncio.create_task(twice())
        await asyncio.sleep(0)
        counts = [lifecycle.in_flight]
        await task
        await asyncio.sleep(0)
        return [*counts, lifecycle.in_flight]

    assert asyncio.run(scenario()) == [1, 0]


@pytest.mark.parametrize("text", ["busy", "I'm restarting right now; please try again in a moment."])
def test_a_quick_refusal_is_private_and_can_never_ping(text: str) -> None:
    body = json.loads(refusal_body(text))
    assert body["type"] == 4
    assert body["data"]["content"] == text
    assert body["data"]["flags"] == EPHEMERAL == 64
    assert body["data"]["allowed_mentions"] == {"parse": []}


def test_a_reindex_still_building_when_shutdown_runs_out_of_patience_stops_waiting() -> None:
    """The moderator's "thinking…" must be filled before the connection closes, even if the build runs on."""

    async def scenario() -> tuple[bool, bool, bool]:
        lifecycle = Lifecycle()
        cog = AdminCog(None, SimpleNamespace(lifecycle=lifecycle))  # type: ignore[arg-type]
        loop = asyncio.get_running_loop()
        finishes: asyncio.Future[Any] = loop.create_future()
        loop.call_later(0.05, finishes.set_result, "summary")
        finished_in_time = await cog._finished_before_shutdown(finishes)
        endless: asyncio.Future[Any] = loop.create_future()
        waiting = asyncio.create_task(cog._finished_before_shutdown(endless))
        await asyncio.sleep(0.05)
        still_waiting = not waiting.done()
        lifecycle.hurry.set()
        return finished_in_time, still_waiting, await asyncio.wait_for(waiting, 1.0)

    finished_in_time, still_waiting, finished_late = asyncio.run(scenario())
    assert finished_in_time is True
    assert still_waiting, "without a shutdown the build is waited for"
    assert finished_late is False, "told to hurry: stop waiting and report"
