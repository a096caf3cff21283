"""A time limit for a block of test code, for calls whose failure may be a hang."""

import contextlib
import signal


class TimeLimitExceeded(AssertionError):
    """A call ran past its time limit: a hang or a refusal that is not quick."""


@contextlib.contextmanager
def time_limit(seconds: float, what: str = "the call"):
    """Raise TimeLimitExceeded in the main thread when the block runs longer than ``seconds``. The alarm
    repeats every 0.25 s until the block ends, in case one lands where Python swallows exceptions (a
    ``__del__``, a weakref callback)."""
    state = {"active": True}

    def on_alarm(signum, frame):
        if state["active"]:
            raise TimeLimitExceeded(f"{what} still running after {seconds} s (a hang, or a refusal that is not quick)")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.25)
    try:
        yield
    finally:
        while True:
            try:
                state["active"] = False
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, old)
                break
            except TimeLimitExceeded:
                continue
