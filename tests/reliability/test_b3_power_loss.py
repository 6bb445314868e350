"""B3 power loss (promises 1 and 2): unsynced data and directory changes are lost, as after a crash.

A ``PowerLossFs`` records, from the system calls ``index/store.py`` really makes, which file
contents were not fsynced and which creates/renames were not made durable by an fsync of their
directory. Power fails before a chosen disk operation (or after the reindex returned); then each
unsynced directory change is kept or reverted, and each unsynced file is deleted, zeroed,
half-truncated, emptied, bit-flipped or left (Lucene's ``MockDirectoryWrapper.crash()``).
Hypothesis draws the step and every choice. The index must then:

* have ``CURRENT`` name the old or the new generation, and that generation must verify (the
  protocol never needs the fallback);
* answer, in a fresh engine with no sources, exactly as the old or the new corpus, matching
  what ``CURRENT`` names;
* be the new one whenever the reindex had returned (a returned reindex is durable);
* recover with a normal reindex that leaves no temporary entry behind.

``test_each_fsync_is_needed`` removes one fsync at a time (through the shim) and shows a
crash scenario that breaks these rules, so every fsync in the protocol is proven necessary.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index import Engine
from index.errors import EngineError
from index.store import GEN_PREFIX, TMP_PREFIX, Store

from .faultfs import DAMAGES, FSYNC_SITES, PowerCut, PowerLossFs, RecordingFs, _DirOp
from .support import SLOW, References, answers, build_references, stale_entries

EXAMPLES = 1000 if SLOW else 60


@pytest.fixture(scope="module")
def refs(tmp_path_factory: pytest.TempPathFactory) -> References:
    return build_references(tmp_path_factory.mktemp("b3-refs"))


@pytest.fixture(scope="module")
def steps(refs: References, tmp_path_factory: pytest.TempPathFactory) -> int:
    """How many disk operations an uninterrupted reindex makes."""
    fs = RecordingFs()
    Engine.open(refs.fresh_old_index(tmp_path_factory.mktemp("b3-steps") / "i"), (), fs=fs).reindex(
        list(refs.corpus.new)
    )
    return len(fs.file_ops())


def crash(
    refs: References,
    root: Path,
    fs: PowerLossFs,
    revert: Callable[[_DirOp], bool],
    damage: Callable[[Path], tuple[str, int]],
) -> list[str]:
    """Reindex old -> new through ``fs``, lose power, and list every broken promise (empty: all kept)."""
    engine = Engine.open(root, (), fs=fs)
    old = engine.generation
    completed = False
    try:
        engine.reindex(list(refs.corpus.new))
        completed = True
    except PowerCut:
        pass
    made = [op.split(":", 1)[1] for op in fs.ops if op.startswith("mkdir:")]
    new = made[0][len(TMP_PREFIX) :] if made else None
    what = fs.power_loss(root, revert, damage)
    context = f" (power lost {'after the reindex returned' if completed else f'at step {fs.steps}'}; {what})"
    problems: list[str] = []

    store = Store(root)
    try:
        current = store.current_name()
        store.open(current or "")
    except EngineError as err:
        return [f"CURRENT does not name a verified generation: {err}{context}"]
    if current not in (old, new):
        return [f"CURRENT names {current}, neither the old {old} nor the new {new}{context}"]
    if completed and current != new:
        problems.append(f"the reindex returned, yet after the crash CURRENT names the old generation{context}")

    served = Engine.open(root)
    got = refs.which(answers(served))
    want = "old" if current == old else "new"
    if got != want or served.generation != current:
        problems.append(f"a restart serves {got} ({served.generation}), CURRENT names the {want} one{context}")

    Engine.open(root).reindex(list(refs.corpus.new))
    if stale_entries(root) or refs.which(answers(Engine.open(root))) != "new":
        problems.append(f"the next reindex left {stale_entries(root)} or does not serve the new corpus{context}")
    return problems


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_power_loss_at_any_step_leaves_old_or_new(refs: References, steps: int, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, steps), label="cut before disk operation (== steps: after it returned)")
    with tempfile.TemporaryDirectory() as folder:
        root = refs.fresh_old_index(Path(folder) / "index")
        fs = PowerLossFs(cut_at=cut if cut < steps else None)
        problems = crash(
            refs,
            root,
            fs,
            revert=lambda op: data.draw(st.booleans(), label=f"revert {op.kind} {op.dst[1]}"),
            damage=lambda path: (
                data.draw(st.sampled_from(DAMAGES), label=f"damage {path.name}"),
                data.draw(st.integers(0, 1 << 20), label="bit"),
            ),
        )
    assert problems == []


PLANS: dict[str, tuple[Callable[[_DirOp], bool], Callable[[Path], tuple[str, int]]]] = {
    # Everything not synced is lost: unsynced directory changes undone, unsynced files zeroed.
    "lose everything unsynced": (lambda op: True, lambda path: ("zero", 0)),
    # Directory changes reach the disk out of order: only an unsynced generation rename is lost.
    "lose only the generation rename": (
        lambda op: op.kind == "rename" and op.dst[1].startswith(GEN_PREFIX),
        lambda path: ("leave", 0),
    ),
}


@pytest.mark.parametrize("plan", PLANS)
def test_power_loss_at_every_step_worst_case(refs: References, steps: int, tmp_path: Path, plan: str) -> None:
    """Deterministic sweep over every step with a worst-case damage plan."""
    revert, damage = PLANS[plan]
    for cut in range(steps + 1):
        root = refs.fresh_old_index(tmp_path / f"cut{cut}")
        fs = PowerLossFs(cut_at=cut if cut < steps else None)
        assert crash(refs, root, fs, revert=revert, damage=damage) == []
        shutil.rmtree(root)


# Each fsync of the protocol, removed: a crash scenario that then breaks a promise.
# (fsync site, where power fails, which unsynced directory changes are undone, what happens to unsynced files)
SCENARIOS = {
    "data": (None, "all", "zero"),  # the data files of a committed generation are zeros
    "manifest": (None, "all", "zero"),  # its manifest is zeros
    "current": (None, "all", "zero"),  # CURRENT itself is zeros
    "dir:tmp": (None, "all", "leave"),  # the generation folder is empty
    "dir:root:rename": ("before_current_fsync", "generation rename", "leave"),  # CURRENT names a missing folder
    "dir:root:current": (None, "all", "leave"),  # a returned reindex is undone
}


def _scenario(site: str) -> tuple[str | None, Callable[[_DirOp], bool], Callable[[Path], tuple[str, int]]]:
    point, undo, mode = SCENARIOS[site]
    if undo == "all":
        revert: Callable[[_DirOp], bool] = lambda op: True  # noqa: E731
    else:
        revert = lambda op: op.kind == "rename" and op.dst[1].startswith(GEN_PREFIX)  # noqa: E731
    return point, revert, lambda path: (mode, 0)


@pytest.mark.parametrize("site", FSYNC_SITES)
def test_each_fsync_is_needed(refs: References, site: str, tmp_path: Path) -> None:
    assert set(SCENARIOS) == set(FSYNC_SITES)
    point, revert, damage = _scenario(site)
    control = crash(refs, refs.fresh_old_index(tmp_path / "with"), PowerLossFs(cut_point=point), revert, damage)
    assert control == [], "with every fsync in place the scenario must be survived"
    mutant = crash(
        refs,
        refs.fresh_old_index(tmp_path / "without"),
        PowerLossFs(cut_point=point, skip_fsync=frozenset({site})),
        revert,
        damage,
    )
    assert mutant != [], f"without the {site} fsync the crash went unnoticed"
