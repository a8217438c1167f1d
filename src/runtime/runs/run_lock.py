"""One run per folder: `run.lock` in the run folder holds the pid, host and process start time of the run
writing there.

A second process started into the same folder is refused (`RunLocked`); the lock goes when its run
exits (atexit). A lock left by a killed run is taken over with a warning: its pid is gone on this host,
or the pid now belongs to another process (pid reuse, e.g. after a reboot): its start time
(/proc/<pid>/stat) is not the one in the lock, or, for a lock without one, it is not a Python process.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
from pathlib import Path

log = logging.getLogger("imagelab")

LOCK_FILE = "run.lock"


class RunLocked(RuntimeError):
    """Another live process holds the run folder."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _start_time(pid: int) -> str | None:
    """The process's start time (clock ticks since boot, /proc/<pid>/stat field 22); None off Linux."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _command(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return None


def _is_our_run(pid: int, started: str | None) -> bool:
    """True unless the live `pid` is visibly another process than the run that wrote the lock."""
    now = _start_time(pid)
    if started is not None and now is not None:
        return started == now
    command = _command(pid)
    if not command:  # cannot tell (no /proc): take it for ours
        return True
    return any("python" in Path(part).name for part in command[:2])


def _holder(path: Path) -> tuple[int, str, str | None] | None:
    """(pid, host, start time or None) of the lock's holder; None if the lock is unreadable."""
    try:
        pid, host, *rest = path.read_text().split()
        return int(pid), host, (rest[0] if rest else None)
    except (OSError, ValueError):
        return None


def acquire(run_dir: str | Path) -> Path:
    """Take the run folder's lock for this process (released at exit); raise RunLocked if it is held."""
    path = Path(run_dir) / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    me, host = os.getpid(), socket.gethostname()
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _holder(path)
            if holder is not None and holder[0] == me and holder[1] == host:
                return path  # already ours (a second entry in this process)
            alive = holder is not None and holder[1] == host and _alive(holder[0])
            if holder is not None and (holder[1] != host or (alive and _is_our_run(holder[0], holder[2]))):
                raise RunLocked(
                    f"{path.parent}: another run (pid {holder[0]} on {holder[1]}) is writing to this folder;"
                    f" wait for it or choose another hydra.run.dir (if no run is writing there, delete {path})"
                ) from None
            who = f"pid {holder[0]} on {holder[1]}" if holder else "an unreadable lock"
            why = "now another program" if alive else "gone"
            log.warning("%s: taking over the lock of a run that is %s (%s)", path.parent, why, who)
            path.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as file:
            file.write(f"{me} {host} {_start_time(me) or ''}".rstrip() + "\n")
        atexit.register(release, path)
        return path
    raise RunLocked(f"{path.parent}: could not take the run lock {path}")


def release(path: str | Path) -> None:
    """Remove the lock if this process holds it."""
    path = Path(path)
    holder = _holder(path)
    if holder is not None and holder[:2] == (os.getpid(), socket.gethostname()):
        path.unlink(missing_ok=True)
