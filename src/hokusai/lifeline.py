"""Child processes that never outlive the process that started them, even when it is killed with SIGKILL.

Linux's parent-death signal (``prctl(PR_SET_PDEATHSIG)``) is asked for by the child itself, so the parent
needs no ``preexec_fn`` (unsafe in a threaded program such as the API): the parent puts its pid in the child's
environment (``HOKUSAI_PARENT_PID``); the child sets the signal, then checks that its parent is still that
pid (it may have died before the signal was set). The kernel sends the signal when the parent *thread* that
started the child exits, so children are started from threads that live as long as the child.

* ``guarded(command)``: for a program we did not write (the MLflow server). ``python -m hokusai.lifeline``
  sets the signal (SIGTERM: MLflow's launcher forwards it to its uvicorn server, which stops cleanly) and
  then ``exec``s the command: same pid, and the setting survives the exec.
* ``die_with_parent()``: for our own children (the run worker), called first thing in the child.
* ``parent_alive()``: a child's last check before it records anything.
* ``become_subreaper()``: for ``hokusai up``: orphans of its children (the run workers of an API child that
  crashed) become its own children, so it can reap them (a zombie would pass for a live worker).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PARENT_ENV = "HOKUSAI_PARENT_PID"
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


def child_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` plus this process's pid as the parent a child must not outlive."""
    return {**env, PARENT_ENV: str(os.getpid())}


def _prctl(option: int, value: int, name: str) -> None:
    """``prctl(option, value)`` on Linux; elsewhere a no-op."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(option, value, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), f"prctl({name}) failed")


def set_parent_death_signal(sig: int) -> None:
    """Ask the kernel for ``sig`` when the parent thread dies (Linux; elsewhere a no-op)."""
    _prctl(PR_SET_PDEATHSIG, int(sig), "PR_SET_PDEATHSIG")


def become_subreaper() -> None:
    """Adopt the orphans of this process's descendants (Linux; elsewhere a no-op): the caller reaps them."""
    _prctl(PR_SET_CHILD_SUBREAPER, 1, "PR_SET_CHILD_SUBREAPER")


def expected_parent() -> int | None:
    """The parent pid named in the environment, if this process was started by a Hokusai parent."""
    value = os.environ.get(PARENT_ENV, "")
    return int(value) if value.isdigit() else None


def parent_alive() -> bool:
    """False once the parent named in the environment is gone (the child was re-parented); True if none."""
    parent = expected_parent()
    return parent is None or os.getppid() == parent


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """Tie this process to the parent named in the environment: ``sig`` when it dies (now, if it has)."""
    if expected_parent() is None:
        return
    set_parent_death_signal(sig)
    if not parent_alive():
        os.kill(os.getpid(), sig)


def guarded(command: list[str], sig: int = signal.SIGTERM) -> list[str]:
    """``command`` started through this module: it gets ``sig`` when the process that started it dies.
    Run it with ``child_env(...)`` as its environment."""
    return [sys.executable, "-m", "hokusai.lifeline", str(int(sig)), "--", *command]


def main(argv: list[str]) -> None:
    """``python -m hokusai.lifeline SIGNAL -- COMMAND...``: set the parent-death signal, then exec COMMAND."""
    sig, separator, *command = argv
    if separator != "--" or not command:
        raise SystemExit("usage: python -m hokusai.lifeline SIGNAL -- COMMAND [ARG...]")
    die_with_parent(int(sig))
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
