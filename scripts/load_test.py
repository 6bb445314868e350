"""Load test: the real bot (subprocess) under open-loop /ask traffic through the fake Discord on 127.0.0.1.

    .venv/bin/python scripts/load_test.py            # the full bar: 50 answers/s for 60 s, burst, 2x capacity
    .venv/bin/python scripts/load_test.py --quick    # the bounded CI form (20/s for 10 s)

Phases: warm-up; sustained rate; a burst of 200 at once; a capacity probe (400 arrivals/s for
2 s: the answers per second it completes is the capacity); twice that capacity. Latencies are
from each interaction's *intended* arrival (no coordinated omission); event-loop lag comes from
a probe injected into the bot process by ``tests/reliability/site``. Prints a table and writes
``bench/results/load.json`` (with the machine it ran on). Exit 1 if a promise is broken: a lost
interaction, an ack after 3 s, "busy" below capacity, no "busy" past it. Loopback only.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakediscord import FakeDiscord  # noqa: E402
from tests.reliability.loadgen import LoadBot, Phase, build_corpus, drive, to_json  # noqa: E402


def machine() -> dict[str, object]:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu": model, "python": platform.python_version(), "system": platform.platform()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="bounded CI form: 20/s for 10 s, 2x capacity for 3 s")
    parser.add_argument("--rate", type=float, help="sustained answers per second (default 50, quick 20)")
    parser.add_argument("--seconds", type=float, help="sustained duration (default 60, quick 10)")
    parser.add_argument("--overload-seconds", type=float, help="2x-capacity duration (default 20, quick 3)")
    parser.add_argument("--passages", type=int, default=2000, help="index size (article plus filler)")
    parser.add_argument("--distinct", action="store_true", help="every question different (nothing cached)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "load.json")
    args = parser.parse_args()
    rate = args.rate or (20 if args.quick else 50)
    seconds = args.seconds or (10 if args.quick else 60)
    overload_seconds = args.overload_seconds or (3 if args.quick else 20)

    phases: list[Phase] = []
    with tempfile.TemporaryDirectory() as folder, FakeDiscord() as fake:
        work = Path(folder)
        sources = build_corpus(work, ROOT / "article.txt", args.passages)
        began = time.monotonic()
        bot = LoadBot(fake, work, sources)
        print(f"bot ready in {time.monotonic() - began:.1f} s over ~{args.passages} passages; {machine()}")
        print(Phase.header())

        def run(name: str, r: float, count: int) -> Phase:
            phase = drive(bot, name, r, count, distinct=args.distinct)
            print(phase.row(), *(f"  ! {p}" for p in phase.problems), sep="\n" if phase.problems else "")
            phases.append(phase)
            return phase

        try:
            drive(bot, "warm-up", 20, 40, distinct=args.distinct)
            sustained = run(f"sustain {rate:g}/s", rate, int(rate * seconds))
            burst = run("burst 200", math.inf, 200)
            probe = run("capacity probe", 400, 800)
            capacity = probe.answer_rate
            overload = run(f"2x capacity {2 * capacity:.0f}/s", 2 * capacity, int(2 * capacity * overload_seconds))
        finally:
            bot.stop()

    broken = [f"{p.name}: {problem}" for p in phases for problem in p.problems]
    if sustained.answered != sustained.sent:
        broken.append(f"{sustained.name}: {sustained.sent - sustained.answered} not answered below capacity")
    if burst.answered + burst.busy != burst.sent:
        broken.append("burst: not every interaction answered or told busy")
    if overload.busy == 0:
        broken.append("2x capacity: nobody was told 'busy'")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            to_json(
                phases,
                machine=machine(),
                passages=args.passages,
                capacity=capacity,
                broken=broken,
                when=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            ),
            indent=1,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"capacity {capacity:.0f} answers/s; written {args.out}")
    for problem in broken:
        print(f"BROKEN: {problem}")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
