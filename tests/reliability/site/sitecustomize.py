"""Test-only start-up hook for bot subprocesses: the fake Discord's redirection, plus a loop-lag probe.

The reliability suites put this folder first on ``PYTHONPATH``. It runs the fake Discord's own
``sitecustomize`` (``tests/fakediscord/site``) unchanged, then, when ``LOOP_LAG_FILE`` is set,
wraps ``asyncio.run`` so that the bot's event loop also runs a probe: every 10 ms it sleeps and
records how late it woke up (event-loop lag), and once a second it appends one JSON line to
``LOOP_LAG_FILE``: ``{"t": monotonic, "n": samples, "max": s, "p99": s, "over_100ms": count}``.
Nothing in the bot changes; production never sees this file.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

_FAKE_SITE = Path(__file__).resolve().parents[2] / "fakediscord" / "site" / "sitecustomize.py"
# The fake's sitecustomize runs the next ``sitecustomize`` on sys.path, which is this one again.
_FIRST = not getattr(sys, "_reliability_site_loaded", False)
sys._reliability_site_loaded = True  # type: ignore[attr-defined]

if _FIRST and _FAKE_SITE.exists():
    _spec = importlib.util.spec_from_file_location("_fakediscord_sitecustomize", _FAKE_SITE)
    if _spec is not None and _spec.loader is not None:
        _module = importlib.util.module_from_spec(_spec)
        _spec.loader.exec_module(_module)

_LAG_FILE = os.environ.get("LOOP_LAG_FILE") if _FIRST else None

if _LAG_FILE:
    import asyncio
    import json
    import time

    _original_run = asyncio.run

    async def _probe(path: str, interval: float = 0.01) -> None:
        samples: list[float] = []
        flushed = time.monotonic()
        while True:
            began = time.monotonic()
            await asyncio.sleep(interval)
            samples.append(max(0.0, time.monotonic() - began - interval))
            now = time.monotonic()
            if now - flushed >= 1.0:
                ordered = sorted(samples)
                line = {
                    "t": now,
                    "n": len(ordered),
                    "max": ordered[-1],
                    "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
                    "over_100ms": sum(1 for s in ordered if s > 0.1),
                }
                with open(path, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps(line) + "\n")
                samples, flushed = [], now

    def _run_with_probe(main, *, debug=None, **kwargs):  # type: ignore[no-untyped-def]
        async def wrapped():  # type: ignore[no-untyped-def]
            probe = asyncio.ensure_future(_probe(_LAG_FILE))
            try:
                return await main
            finally:
                probe.cancel()

        return _original_run(wrapped(), debug=debug, **kwargs)

    asyncio.run = _run_with_probe  # type: ignore[assignment]
