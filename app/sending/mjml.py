"""MJML to HTML, compiled by MRML (the Rust port of MJML, through mjml-python) once per campaign, never per recipient.

A campaign's MJML keeps its Jinja2 inside (`{{ first_name }}` in an mj-text, `href="{{ unsubscribe_url }}"`): MRML
leaves it as text, and the compiled HTML is the template that is then rendered per recipient in the bounded sandbox.

Untrusted work is bounded: the source is refused past the render size limit and past MAX_DEPTH levels of nesting
(deeper, MRML's recursion overflows its stack), the compile runs in a helper process that is killed when it takes
longer than the render time limit (MRML is native code a thread cannot stop) and replaced when it dies, and
`mj-include` reads nothing (no loader is given). A compile error names its line: MRML's own position when it
gives one, else the first tag left open or closed out of turn."""

import multiprocessing
import os
import re
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool

from app.bounces.lifeline import exit_with
from app.sending.sandbox import Limits


class MjmlProblem(ValueError):
    """MJML that does not compile; `line` is where, when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.line = line
        super().__init__(message)


# how long a new helper process may take to start (imports on a busy machine): not counted against a compile
STARTUP_SECONDS = 120.0
# a compile's time past the render limit for handing the document over and the HTML back
MARGIN_SECONDS = 1.0
# MRML recurses per level of nesting: a few thousand levels overflow its stack; real documents nest under 10
MAX_DEPTH = 50


class _Helper:
    """One helper process, started on first use and replaced after a compile ran out of time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pool: ProcessPoolExecutor | None = None

    def run(self, source: str, seconds: float) -> str:
        from mjml import mjml2html  # the helper process imports only this module for a compile

        with self.lock:
            if self.pool is None:
                # forkserver: forking a process with scheduler and worker threads is unsafe
                context = multiprocessing.get_context("forkserver")
                pool = ProcessPoolExecutor(1, mp_context=context, initializer=exit_with, initargs=(os.getpid(),))
                try:  # started and ready before any compile is timed: its start is not the template's fault
                    pool.submit(len, "").result(timeout=STARTUP_SECONDS)
                except (FutureTimeout, BrokenProcessPool) as exc:
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise MjmlProblem("the MJML compiler could not be started; try again") from exc
                self.pool = pool
            pool = self.pool
        future = pool.submit(mjml2html, source)
        limit = seconds + MARGIN_SECONDS
        try:
            return str(future.result(timeout=limit))
        except FutureTimeout as exc:
            self._replace(pool)
            raise MjmlProblem(f"compiling the MJML took longer than {limit:g} s") from exc
        except BrokenProcessPool as exc:
            self._replace(pool)
            raise MjmlProblem("the MJML compiler stopped on this document") from exc

    def _replace(self, pool: ProcessPoolExecutor) -> None:
        with self.lock:
            if self.pool is pool:
                self.pool = None
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)


_helper = _Helper()
_POSITION = re.compile(r"\s*(?:in \S+ template\s*)?at position (\d+):(\d+)\s*$")
_TAG = re.compile(r"<(/?)(mj[a-z-]*|mjml)\b[^>]*?(/?)>", re.IGNORECASE)
# components whose content MRML keeps as raw text: a tag inside them is not MJML
_RAW = frozenset({"mj-text", "mj-raw", "mj-button", "mj-table", "mj-style", "mj-title", "mj-preview"})


def _line(source: str, offset: int) -> int:
    return source.count("\n", 0, offset) + 1


def _unbalanced(source: str) -> tuple[str, int] | None:
    """The first MJML tag that is closed out of turn, never closed or nested past MAX_DEPTH, and its line."""
    stack: list[tuple[str, int]] = []
    for m in _TAG.finditer(source):
        closing, name, selfclosing = m.group(1), m.group(2).lower(), m.group(3)
        if stack and stack[-1][0] in _RAW and not (closing and name == stack[-1][0]):
            continue
        if selfclosing:
            continue
        if not closing:
            stack.append((name, m.start()))
            if len(stack) > MAX_DEPTH:
                return f"<{name}> is nested more than {MAX_DEPTH} levels deep", _line(source, m.start())
        elif stack and stack[-1][0] == name:
            stack.pop()
        else:
            expected = f"</{stack[-1][0]}>" if stack else "nothing"
            return f"</{name}> closes nothing open here (expected {expected})", _line(source, m.start())
    if stack:
        name, at = stack[-1]
        return f"<{name}> is never closed", _line(source, at)
    return None


def compile_mjml(source: str, limits: Limits) -> str:
    """The HTML of an MJML document; MjmlProblem (with its line when known) when it does not compile."""
    if len(source) > limits.max_bytes:
        raise MjmlProblem(f"the MJML is larger than {limits.describe_size()}")
    if "<mjml" not in source.lower():
        raise MjmlProblem("an MJML document starts with <mjml> and has an <mj-body>", 1)
    found = _unbalanced(source)
    if found and "nested more than" in found[0]:  # refused before MRML's recursion could overflow
        raise MjmlProblem(*found)
    try:
        html = _helper.run(source, limits.seconds)
    except ValueError as exc:  # MRML's parse error, or ours
        if isinstance(exc, MjmlProblem):
            raise
        message = str(exc)[:300]
        m = _POSITION.search(message)
        if m:
            return_line = _line(source, int(m.group(1)))
            raise MjmlProblem(message[: m.start()].strip() or "does not compile", return_line) from None
        found = _unbalanced(source)
        if found:
            raise MjmlProblem(found[0], found[1]) from None
        raise MjmlProblem(message or "does not compile") from None
    if len(html) > limits.max_bytes * 4:  # MJML's markup multiplies a document's size; past this, a bomb
        raise MjmlProblem(f"the compiled HTML is larger than 4 x {limits.describe_size()}")
    return html
