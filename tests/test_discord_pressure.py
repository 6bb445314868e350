"""Cooldown and admission: limits per user, one notice per window, busy instead of a queue."""

from __future__ import annotations

from bot.discord_app.pressure import Admission, Cooldown, CooldownKey


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
