"""One run per folder: `run.lock` in the run folder holds the pid and host of the run writing there.

A second process started into the same folder is refused (`RunLocked`); the lock goes when its run
exits (atexit). A lock left by a killed run (its pid is gone on this host) is taken over with a warning.
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


def _holder(path: Path) -> tuple[int, str] | None:
    try:
        pid, _, host = path.read_text().strip().partition(" ")
        return int(pid), host
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
            if holder is not None and (holder[1] != host or _alive(holder[0])):
                raise RunLocked(
                    f"{path.parent}: another run (pid {holder[0]} on {holder[1]}) is writing to this folder;"
                    " wait for it or choose another hydra.run.dir"
                ) from None
            who = f"pid {holder[0]} on {holder[1]}" if holder else "an unreadable lock"
            log.warning("%s: taking over the lock of a run that is gone (%s)", path.parent, who)
            path.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as file:
            file.write(f"{me} {host}\n")
        atexit.register(release, path)
        return path
    raise RunLocked(f"{path.parent}: could not take the run lock {path}")


def release(path: str | Path) -> None:
    """Remove the lock if this process holds it."""
    path = Path(path)
    holder = _holder(path)
    if holder is not None and holder == (os.getpid(), socket.gethostname()):
        path.unlink(missing_ok=True)
