"""Cooldown, admission and shedding by age: limits per user, one notice per window, busy instead of a queue."""

from __future__ import annotations

from datetime import UTC, datetime

import discord
import pytest

from bot.discord_app.pressure import (
    Admission,
    AgeLimits,
    Cooldown,
    CooldownKey,
    InteractionAges,
    ShedCounter,
    Verdict,
    created_at,
    verdict,
)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


ALICE = CooldownKey(guild_id=1, user_id=10)


def test_cooldown_allows_rate_asks_per_window_then_says_when_to_retry() -> None:
    clock = FakeClock()
    cooldown = Cooldown(rate=3, per=10.0, clock=clock)
    assert [cooldown.hit(ALICE).allowed for _ in range(3)] == [True, True, True]
    clock.now += 4
    refused = cooldown.hit(ALICE)
    assert not refused.allowed
    assert refused.retry_after == 6.0 and refused.retry_seconds == 6


def test_cooldown_window_slides() -> None:
    clock = FakeClock()
    cooldown = Cooldown(rate=2, per=10.0, clock=clock)
    cooldown.hit(ALICE)
    clock.now += 5
    cooldown.hit(ALICE)
    clock.now += 5.5
    assert cooldown.hit(ALICE).allowed, "the first ask left the window"
    assert not cooldown.hit(ALICE).allowed


def test_cooldown_is_per_user_and_per_server() -> None:
    cooldown = Cooldown(rate=1, per=60.0, clock=FakeClock())
    assert cooldown.hit(ALICE).allowed
    assert cooldown.hit(CooldownKey(guild_id=1, user_id=11)).allowed
    assert cooldown.hit(CooldownKey(guild_id=0, user_id=10)).allowed, "DMs are keyed apart"
    assert not cooldown.hit(ALICE).allowed


def test_only_the_first_refusal_in_a_window_asks_for_a_notice() -> None:
    clock = FakeClock()
    cooldown = Cooldown(rate=1, per=10.0, clock=clock)
    cooldown.hit(ALICE)
    notices = [cooldown.hit(ALICE).notify for _ in range(5)]
    assert notices == [True, False, False, False, False]
    clock.now += 9
    assert not cooldown.hit(ALICE).notify
    clock.now += 1.5
    cooldown.hit(ALICE)  # allowed again: the window moved on
    assert cooldown.hit(ALICE).notify


def test_a_refusal_never_says_zero_seconds() -> None:
    clock = FakeClock()
    cooldown = Cooldown(rate=1, per=10.0, clock=clock)
    cooldown.hit(ALICE)
    clock.now += 9.99
    assert cooldown.hit(ALICE).retry_seconds == 1


def test_idle_users_are_forgotten_so_memory_stays_bounded() -> None:
    clock = FakeClock()
    cooldown = Cooldown(rate=1, per=10.0, clock=clock, max_keys=100)
    for user in range(100):
        cooldown.hit(CooldownKey(1, user))
    clock.now += 11
    cooldown.hit(CooldownKey(1, 1000))
    assert len(cooldown._hits) == 1


def test_zero_window_means_no_cooldown() -> None:
    cooldown = Cooldown(rate=1, per=0.0, clock=FakeClock())
    assert all(cooldown.hit(ALICE).allowed for _ in range(10))


def test_admission_turns_away_past_the_limit_and_frees_slots() -> None:
    admission = Admission(limit=2)
    first, second = admission.try_enter(), admission.try_enter()
    assert first is not None and second is not None
    assert admission.try_enter() is None
    with first:
        pass
    assert admission.in_flight == 1
    third = admission.try_enter()
    assert third is not None


def test_admission_frees_the_slot_when_the_work_fails() -> None:
    admission = Admission(limit=1)
    ticket = admission.try_enter()
    assert ticket is not None
    try:
        with ticket:
            raise RuntimeError("engine blew up")
    except RuntimeError:
        pass
    assert admission.try_enter() is not None


# ---- shedding by interaction age -----------------------------------------------------------------


def snowflake_at(seconds: float) -> int:
    """A snowflake created at ``seconds`` since 1970, as Discord mints them."""
    return discord.utils.time_snowflake(datetime.fromtimestamp(seconds, tz=UTC))


class WallClock(FakeClock):
    """A wall clock (seconds since 1970) the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_750_000_000.0


def test_created_at_reads_the_snowflake_like_discord_py() -> None:
    for snowflake in (175928847299117063, snowflake_at(1_750_000_000.25)):
        assert created_at(snowflake) == pytest.approx(discord.utils.snowflake_time(snowflake).timestamp())


def test_age_is_time_since_discord_created_the_interaction() -> None:
    clock = WallClock()
    ages = InteractionAges(clock=clock)
    assert ages.age(snowflake_at(clock.now)) == 0.0
    assert ages.age(snowflake_at(clock.now - 0.25)) == pytest.approx(0.25, abs=1e-3)
    assert ages.age(snowflake_at(clock.now - 2.0)) == pytest.approx(2.0, abs=1e-3)


def test_a_host_clock_running_ahead_does_not_make_every_interaction_look_old() -> None:
    clock = WallClock()
    ages = InteractionAges(clock=clock)
    ahead = 10.0  # our clock is 10 s ahead of Discord's: raw ages all look 10 s too old
    assert ages.age(snowflake_at(clock.now - ahead)) == 0.0
    clock.now += 1
    assert ages.age(snowflake_at(clock.now - ahead - 2.0)) == pytest.approx(2.0, abs=1e-3)


def test_the_skew_correction_only_ever_lowers_an_age() -> None:
    clock = WallClock()
    ages = InteractionAges(clock=clock)
    ages.age(snowflake_at(clock.now + 5.0))  # an id from "the future": our clock is behind
    assert ages.age(snowflake_at(clock.now - 2.0)) == pytest.approx(2.0, abs=1e-3)


def test_the_skew_estimate_forgets_samples_older_than_its_window() -> None:
    clock = WallClock()
    ages = InteractionAges(window=60.0, slots=6, clock=clock)
    ages.age(snowflake_at(clock.now - 5.0))  # alone: taken as skew
    assert ages.age(snowflake_at(clock.now - 5.0)) == 0.0
    clock.now += 30
    assert ages.age(snowflake_at(clock.now)) == 0.0  # a fresh one: no skew after all
    assert ages.age(snowflake_at(clock.now - 2.0)) == pytest.approx(2.0, abs=1e-3)
    clock.now += 61
    ages.age(snowflake_at(clock.now - 1.0))
    assert ages.age(snowflake_at(clock.now - 2.0)) == pytest.approx(1.0, abs=1e-3), "old slots dropped"


LIMITS = AgeLimits(busy_after=1.5, defer_at=2.0, expired_after=2.5)


@pytest.mark.parametrize(
    ("age", "accepting", "open_", "expected"),
    [
        (0.1, True, True, Verdict.SERVE),
        (1.49, True, True, Verdict.SERVE),
        (1.5, True, True, Verdict.BUSY),
        (2.49, True, True, Verdict.BUSY),
        (2.5, True, True, Verdict.EXPIRED),
        (40.0, True, True, Verdict.EXPIRED),
        (0.1, False, True, Verdict.RESTARTING),
        (1.8, False, True, Verdict.RESTARTING),
        (2.6, False, True, Verdict.EXPIRED),
        (0.1, False, False, Verdict.CLOSED),
    ],
)
def test_verdict_by_age_and_lifecycle(age: float, accepting: bool, open_: bool, expected: Verdict) -> None:
    assert verdict(age, accepting=accepting, open_=open_, limits=LIMITS) is expected


def test_limits_leave_time_for_the_reply_inside_discords_three_seconds() -> None:
    limits = AgeLimits()
    assert limits.busy_after < limits.defer_at < limits.expired_after <= 3.0 - 0.5


def test_shed_counter_summarises_at_most_once_a_window() -> None:
    clock = FakeClock()
    counter = ShedCounter(every=60.0, clock=clock)
    assert counter.record(Verdict.BUSY) is None
    assert counter.record(Verdict.EXPIRED) is None
    clock.now += 61
    summary = counter.record(Verdict.BUSY)
    assert summary is not None and "2 busy" in summary and "1 expired" in summary
    assert counter.record(Verdict.BUSY) is None
    assert counter.flush() == "shed 1 busy interaction(s) in the last 0 s"
    assert counter.flush() is None
    assert counter.total == {Verdict.BUSY: 3, Verdict.EXPIRED: 1}
