"""Assertions shared by the core's CLI tests."""

from __future__ import annotations

import subprocess
from pathlib import Path


def one_error_line(result: subprocess.CompletedProcess[str], code: int, *needles: str) -> str:
    """Assert ``result`` failed with ``code``, one ``Error:`` line on stderr and no traceback."""
    out = result.stdout + result.stderr
    assert result.returncode == code, out
    assert "Traceback" not in out, out
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, out
    assert lines[0].startswith("Error: "), out
    for needle in needles:
        assert needle in lines[0], out
    return lines[0]


def snapshot(path: Path) -> tuple[bytes, int] | None:
    """Bytes and mode of a file (``None`` when missing), to prove it was not touched."""
    if not path.exists():
        return None
    return path.read_bytes(), path.stat().st_mode


class Terminal:
    """Run the real ``chaos`` on a pseudo-terminal (its controlling tty) and answer its prompts."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        import fcntl
        import os
        import pty
        import signal
        import termios

        from chaosiq_core.testing import executable

        self.master, slave = pty.openpty()

        def become_terminal_session() -> None:
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
            signal.signal(signal.SIGINT, signal.SIG_DFL)

        self.proc = subprocess.Popen(
            [executable("chaos"), "--no-version-check", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**os.environ, **env},
            preexec_fn=become_terminal_session,
        )
        os.close(slave)
        self.output = ""

    def expect(self, text: str, timeout: float = 30) -> None:
        """Read until ``text`` was printed (or fail after ``timeout`` seconds)."""
        import os
        import select
        import time

        deadline = time.monotonic() + timeout
        while text not in self.output:
            left = deadline - time.monotonic()
            assert left > 0, f"{text!r} never came; output so far:\n{self.output}"
            ready, _, _ = select.select([self.master], [], [], min(left, 0.5))
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # the child closed the terminal
                    chunk = b""
                if not chunk and self.proc.poll() is not None:
                    raise AssertionError(f"{text!r} never came; chaos exited:\n{self.output}")
                self.output += chunk.decode(errors="replace")

    def wait_reading(self, timeout: float = 30) -> None:
        """Wait until the process is blocked reading the terminal (waiting for the user).

        A Ctrl-C that lands between Python's last signal check and the ``read``
        call is only acted upon at the next key (CPython's ``input()``): a test
        types it once the process really waits.
        """
        from chaosiq_core.testing import wait_until

        def reading() -> bool:
            try:
                with open(f"/proc/{self.proc.pid}/syscall") as fh:
                    fields = fh.read().split()
            except OSError:
                return False
            return fields[:2] == ["0", "0x0"]  # read(0, ...) on x86_64

        wait_until(reading, timeout=timeout, what="chaos to wait for terminal input")

    def send(self, line: str) -> None:
        """Type ``line`` and Enter."""
        self.type(line.encode() + b"\r")

    def type(self, keys: bytes) -> None:
        """Type raw keys (``b"\\x03"`` is Ctrl-C: the terminal sends SIGINT)."""
        import os

        os.write(self.master, keys)

    def finish(self, timeout: float = 30) -> int:
        """Wait for the exit code, collecting the rest of the output."""
        import contextlib
        import os

        with contextlib.suppress(AssertionError):
            self.expect("\x00never\x00", timeout=0)
        code = self.proc.wait(timeout=timeout)
        with contextlib.suppress(OSError):
            while chunk := os.read(self.master, 4096):
                self.output += chunk.decode(errors="replace")
        os.close(self.master)
        return code
