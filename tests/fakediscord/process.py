"""Running a bot as a subprocess against the fake, with its output kept in files.

Output goes to files, not pipes, so a chatty bot can never block on a full pipe buffer
while the test waits on the fake. A watcher thread wakes the fake's waits the moment the
process exits, so a crashed bot fails the test at once instead of after a timeout.
"""

from __future__ import annotations

import logging
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

_log = logging.getLogger(__name__)

TAIL_CHARS = 4000
POLL_SECONDS = 0.02


class BotProcess:
    """One bot subprocess: start, watch, read its output, stop it."""

    def __init__(
        self,
        args: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path | str | None = None,
        log_dir: Path,
        name: str = "bot",
        on_exit: Callable[[], None] | None = None,
    ) -> None:
        self.args = list(args)
        self.env = dict(env)
        self.cwd = cwd
        self.name = name
        self.stdout_path = Path(log_dir) / f"{name}.stdout.log"
        self.stderr_path = Path(log_dir) / f"{name}.stderr.log"
        self._on_exit = on_exit
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopping = False

    def start(self) -> BotProcess:
        """Launch the process (stdin closed, stdout/stderr to files)."""
        self.stdout_path.parent.mkdir(parents=True, exist_ok=True)
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self._proc = subprocess.Popen(
                self.args, env=self.env, cwd=self.cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err
            )
        _log.info("started %s (pid %s): %s", self.name, self._proc.pid, self.args)
        threading.Thread(target=self._watch, name=f"watch-{self.name}", daemon=True).start()
        return self

    def _watch(self) -> None:
        assert self._proc is not None
        code = self._proc.wait()
        _log.info("%s (pid %s) exited with %s", self.name, self._proc.pid, code)
        if self._on_exit is not None:
            self._on_exit()

    @property
    def proc(self) -> subprocess.Popen[bytes]:
        """The underlying Popen (started)."""
        if self._proc is None:
            raise RuntimeError(f"{self.name} not started")
        return self._proc

    @property
    def pid(self) -> int:
        """The process id."""
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        """The exit status, or None while running."""
        return self.proc.poll()

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self._proc is not None and self._proc.poll() is None

    def stdout(self) -> str:
        """Everything written to stdout so far."""
        return self.stdout_path.read_text("utf-8", "replace") if self.stdout_path.exists() else ""

    def stderr(self) -> str:
        """Everything written to stderr so far (discord.py logs here)."""
        return self.stderr_path.read_text("utf-8", "replace") if self.stderr_path.exists() else ""

    def output(self) -> str:
        """stdout then stderr, labelled, for failure reports."""
        return f"--- {self.name} stdout ---\n{self.stdout()}\n--- {self.name} stderr ---\n{self.stderr()}"

    def exited_unexpectedly(self) -> str | None:
        """A description with the output tail if the process ended without being stopped."""
        if self._stopping or self._proc is None or self._proc.poll() is None:
            return None
        return f"{self.name} exited with {self._proc.returncode}:\n{self.output()[-TAIL_CHARS:]}"

    def wait_for_output(
        self, pattern: str | re.Pattern[str], timeout: float = 10.0, *, stream: str = "both"
    ) -> re.Match[str]:
        """Wait until ``pattern`` appears in ``stream`` (stdout, stderr or both).

        Files cannot be waited on, so this polls every 20 ms until the deadline; it fails
        at once if the process exits without having printed the pattern.
        """
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        while True:
            exited = not self.alive()
            text = {"stdout": self.stdout, "stderr": self.stderr}.get(stream, self.output)()
            found = regex.search(text)
            if found:
                return found
            if exited:
                raise AssertionError(
                    f"{self.name} exited before printing {regex.pattern!r}:\n{self.output()[-TAIL_CHARS:]}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.name} did not print {regex.pattern!r} in {timeout}s:\n{self.output()[-TAIL_CHARS:]}"
                )
            time.sleep(POLL_SECONDS)

    def terminate(self, timeout: float = 10.0) -> int:
        """SIGTERM and wait up to ``timeout``; returns the exit status.

        Raises ``subprocess.TimeoutExpired`` (after SIGKILLing it) if it does not exit.
        """
        self._stopping = True
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> int:
        """SIGKILL and reap; returns the exit status."""
        self._stopping = True
        if self.alive():
            self.proc.kill()
        return self.proc.wait()

    def stop(self, grace: float = 3.0) -> int | None:
        """Teardown: SIGTERM, then SIGKILL after ``grace`` seconds; never raises."""
        if self._proc is None:
            return None
        try:
            return self.terminate(grace)
        except subprocess.TimeoutExpired:
            _log.warning("%s ignored SIGTERM for %.1fs; killed", self.name, grace)
            return self._proc.returncode
