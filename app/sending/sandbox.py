"""Jinja2 for untrusted templates with limits on time and size.

Jinja2's sandbox keeps a template away from Python's internals but not from the CPU or the memory:
`{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}` or
`{{ 'x' * 10**10 }}` would run for hours or allocate gigabytes. Here every render runs against a
budget (`Limits`): CPU time of the rendering thread, bytes of output, and bytes the template may
build on the way (a multiple of the output limit). The budget is checked cooperatively where a
template can spend either:

* time: on every item of every `{% for %}` loop (wrapped at parse time), every call (macros,
  methods, `loop()` recursion), every test and every intercepted operator (a filter's own work is
  bounded by the size of its input);
* memory: before an operation whose result could be large (`*`, `**`, `+`, `%`, `~`, captured
  blocks, `str.format`, `center`/`ljust`/`replace`/`join`..., the filters that pad, join or
  repeat), from the sizes of its operands, so the allocation never happens; and on every piece of
  output.

Nothing runs in another thread or process, so a render over the limit stops within milliseconds and
leaves nothing behind. The constant folder is off: it would run these operations while compiling."""

import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import update_wrapper, wraps
from string import Formatter
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import Markup, Namespace
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEscapeFormatter, SandboxedFormatter
from jinja2.utils import _PassArg, generate_lorem_ipsum
from markupsafe import escape, soft_str

# What a template may build while rendering, as a multiple of its output limit: room for
# intermediate strings (a block captured and filtered, a list joined) without letting a loop pile up
# copies. Big integers are capped separately: their size is bits, not characters.
WORK_FACTOR = 8
MAX_INT_BITS = 1 << 16
MAX_PIECES = 100_000  # items a filter may pad a list to (batch) or cut it into (slice)
# steps (loop items, calls, filters) between two looks at the clock; each step is bounded in size, so
# the limit bites within milliseconds of its time
TICK_EVERY = 32


@dataclass(frozen=True)
class Limits:
    seconds: float = 2.0  # CPU time of the rendering thread per message
    max_bytes: int = 2 * 1024 * 1024  # characters of output per message

    def describe_time(self) -> str:
        return f"{self.seconds:g} s"

    def describe_size(self) -> str:
        mb = self.max_bytes / (1024 * 1024)
        return f"{mb:g} MB" if mb >= 1 else f"{self.max_bytes} bytes"


class RenderLimitExceeded(Exception):
    """A render stopped at a limit; the message says which, in words for the marketer."""

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind  # "time" | "size"
        self.line: int | None = None  # set when the template's own frames do not show it
        super().__init__(message)


class _Budget:
    __slots__ = ("deadline", "limits", "output_left", "ticks", "work_left")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        # the CPU clock starts with the first Jinja render of the message (start_clock): a message whose
        # templates are all Substitutions runs no code a clock could stop, and reading a thread's CPU
        # clock is a system call
        self.deadline = -1.0
        self.work_left = limits.max_bytes * WORK_FACTOR
        self.output_left = limits.max_bytes
        self.ticks = TICK_EVERY

    def tick(self) -> None:
        """One step of work; every TICK_EVERY steps a look at the clock (a thread CPU clock costs ~0.2 us)."""
        self.ticks -= 1
        if self.ticks <= 0:
            self.ticks = TICK_EVERY
            self.look_at_clock()

    def start_clock(self) -> None:
        if self.deadline < 0:
            self.deadline = time.thread_time() + self.limits.seconds

    def look_at_clock(self) -> None:
        if self.deadline < 0:
            self.start_clock()
        elif time.thread_time() > self.deadline:
            raise RenderLimitExceeded("time", f"rendering took longer than {self.limits.describe_time()}")

    def allow(self, size: int) -> None:
        """Refuse to build a value of `size` characters (checked before it is built)."""
        if size > self.limits.max_bytes:
            raise RenderLimitExceeded("size", f"the template builds a value larger than {self.limits.describe_size()}")

    def spend(self, size: int) -> None:
        self.work_left -= size
        if self.work_left < 0:
            raise RenderLimitExceeded(
                "size", f"the template builds more than {WORK_FACTOR} x {self.limits.describe_size()} on the way"
            )


_local = threading.local()


def _budget() -> _Budget:
    budget: _Budget | None = getattr(_local, "budget", None)
    if budget is None:  # a render outside limited() would have no limits
        raise RuntimeError("bounded templates render only inside limited()")
    return budget


def weight(value: Any, limit: int) -> int:
    """About how many characters str(value) takes; stops counting once past `limit`."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, (int, float)):
        return 24
    total = 0
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, (str, bytes)):
            total += len(v)
        elif isinstance(v, (int, float)) or v is None:
            total += 24
        elif isinstance(v, (list, tuple, set, frozenset)):
            total += 2 * len(v)
            if total <= limit:
                stack.extend(v)
        elif isinstance(v, range):
            total += 8 * len(v)
        elif isinstance(v, Mapping):
            total += 4 * len(v)
            if total <= limit:
                stack.extend(v.keys())
                stack.extend(v.values())
        elif isinstance(v, Namespace):  # its repr shows its attributes
            stack.append(dict(v._Namespace__attrs))
        elif isinstance(v, Collection):
            total += 2 * len(v)
            if total <= limit:
                stack.extend(v)
        else:
            total += 32
        if total > limit:
            break
    return total


def _allow_value(value: Any) -> None:
    budget = _budget()
    budget.allow(weight(value, budget.limits.max_bytes))


def _int_bits(value: Any) -> int:
    return value.bit_length() if isinstance(value, int) else 0


def _check_binop(operator: str, left: Any, right: Any) -> None:
    budget = _budget()
    limit = budget.limits.max_bytes
    if operator == "*":
        for seq, n in ((left, right), (right, left)):
            if isinstance(n, int) and isinstance(seq, (str, list, tuple)):
                budget.allow(weight(seq, limit) * max(n, 0) if seq else 0)
                budget.allow(len(seq) * max(n, 0))
        if _int_bits(left) + _int_bits(right) > MAX_INT_BITS:
            raise RenderLimitExceeded("size", f"the template computes a number larger than {MAX_INT_BITS} bits")
    elif operator == "**":
        small = left in (0, 1, -1) or not (isinstance(left, int) and isinstance(right, int) and right > 0)
        if not small and left.bit_length() * right > MAX_INT_BITS:
            raise RenderLimitExceeded("size", f"the template computes a number larger than {MAX_INT_BITS} bits")
    elif operator == "+":
        if isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
            budget.allow(weight(left, limit) + weight(right, limit))
    elif operator == "%" and isinstance(left, str):
        _check_percent_format(left, right)


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d*)(?:\.(\*|\d*))?")


_BIG_SPEC = re.compile(r"\d{7}|\*")


def _check_percent_format(fmt: str, args: Any) -> None:
    budget = _budget()
    if _BIG_SPEC.search(fmt) is None:  # the common case: small widths
        budget.allow(len(fmt) + weight(args, budget.limits.max_bytes))
        return
    for width, precision in _PERCENT_SPEC.findall(fmt):
        for number in (width, precision):
            if number == "*":
                raise RenderLimitExceeded("size", "'*' widths in % formatting are not allowed in templates")
            if number and int(number) > budget.limits.max_bytes:
                budget.allow(int(number))
    budget.allow(len(fmt) + weight(args, budget.limits.max_bytes))


_SPEC_NUMBER = re.compile(r"\d+")


class _BoundedFormatter(SandboxedFormatter):
    """str.format in templates: every field's width and value is checked before it is formatted."""

    def format_field(self, value: Any, format_spec: str) -> Any:
        budget = _budget()
        for number in _SPEC_NUMBER.findall(format_spec):
            budget.allow(int(number) if len(number) < 12 else budget.limits.max_bytes + 1)
        size = weight(value, budget.limits.max_bytes)
        budget.allow(size)
        budget.spend(size)
        return super().format_field(value, format_spec)


class _BoundedEscapeFormatter(_BoundedFormatter, SandboxedEscapeFormatter):
    pass


def _bounded_join(pieces: Iterable[Any], convert: Callable[[Any], str]) -> str:
    """Joins for `~`, captured blocks and macro bodies: the total is checked before it is built."""
    budget = _budget()
    limit = budget.limits.max_bytes
    out = []
    total = 0
    for piece in pieces:
        if not isinstance(piece, str):
            budget.allow(weight(piece, limit))
            piece = convert(piece)
        total += len(piece)
        budget.allow(total)
        out.append(piece)
    budget.spend(total)
    return "".join(out)


def _concat(pieces: Iterable[Any]) -> str:
    return _bounded_join(pieces, str)


_str_join = _concat


def _markup_join(pieces: Iterable[Any]) -> str:
    pieces = list(pieces)
    if any(hasattr(p, "__html__") for p in pieces):
        for piece in pieces:  # measured before escaping turns a container into text
            if not isinstance(piece, str):
                _allow_value(piece)
        return Markup(_bounded_join((Markup.escape(p) for p in pieces), str))
    return _bounded_join(pieces, soft_str)


def ticking(iterable: Iterable[Any]) -> Iterator[Any]:
    """Every `{% for %}` loop iterates through this, so a loop that outputs nothing still meets the clock."""
    budget = _budget()
    n = 0
    for item in iterable:
        n += 1
        if n == TICK_EVERY:
            n = 0
            budget.look_at_clock()
        yield item


# --- methods of str a template may call, each with the size of its result known beforehand


def _str_method_size(s: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int | None:
    """The size a str method's result would have, for the methods whose result can outgrow their input."""
    a = list(args) + list(kwargs.values())
    if name in ("center", "ljust", "rjust", "zfill"):
        return max(len(s), a[0]) if a and isinstance(a[0], int) else len(s)
    if name == "expandtabs":
        size = a[0] if a and isinstance(a[0], int) else 8
        return len(s) + s.count("\t") * max(size, 0)
    if name == "replace" and len(a) >= 2 and isinstance(a[0], str) and isinstance(a[1], str):
        count = s.count(a[0]) if a[0] else len(s) + 1
        if len(a) > 2 and isinstance(a[2], int) and a[2] >= 0:
            count = min(count, a[2])
        return len(s) + count * len(a[1])
    if name == "translate" and a and isinstance(a[0], Mapping):
        longest = max((len(v) for v in a[0].values() if isinstance(v, str)), default=1)
        return len(s) * max(longest, 1)
    if name == "join" and a:
        return -1  # handled by the caller: it needs the pieces
    return None


_FILTER_CHECKS: dict[str, Callable[..., None]] = {}


def _filter_check(name: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    def register(check: Callable[..., None]) -> Callable[..., None]:
        _FILTER_CHECKS[name] = check
        return check

    return register


@_filter_check("center")
def _center(value: Any, width: int = 80) -> None:
    _budget().allow(max(len(value) if isinstance(value, str) else 0, width if isinstance(width, int) else 0))


@_filter_check("indent")
def _indent(s: Any, width: Any = 4, first: bool = False, blank: bool = False) -> None:
    pad = width if isinstance(width, int) else len(str(width)) if isinstance(width, str) else 0
    text = str(s) if isinstance(s, str) else ""
    budget = _budget()
    budget.allow(pad)
    budget.allow(len(text) + (text.count("\n") + 1) * pad)


@_filter_check("format")
def _format(value: Any, *args: Any, **kwargs: Any) -> None:
    fmt = value if isinstance(value, str) else ""
    if not kwargs and _BIG_SPEC.search(fmt) is None:
        for arg in args:
            if not isinstance(arg, (int, float)):
                break
        else:
            return  # the common case ('%.2f'|format(price)): numbers at small widths
    _check_percent_format(fmt, kwargs or args)


@_filter_check("join")
def _join(value: Any, d: str = "", attribute: Any = None) -> None:
    budget = _budget()
    limit = budget.limits.max_bytes
    count = len(value) if isinstance(value, Collection) else 0
    budget.allow(weight(value, limit) + count * len(d if isinstance(d, str) else ""))


@_filter_check("replace")
def _replace(s: Any, old: Any, new: Any, count: Any = None) -> None:
    if isinstance(s, str) and isinstance(old, str) and isinstance(new, str):
        size = _str_method_size(s, "replace", (old, new) + ((count,) if count is not None else ()), {})
        _budget().allow(size or 0)


@_filter_check("wordwrap")
def _wordwrap(s: Any, width: Any = 79, break_long_words: bool = True, wrapstring: Any = None, **_: Any) -> None:
    if isinstance(s, str) and isinstance(wrapstring, str) and isinstance(width, int):
        _budget().allow(len(s) + (len(s) // max(width, 1) + 1) * len(wrapstring))


@_filter_check("batch")
def _batch(value: Any, linecount: Any, fill_with: Any = None) -> None:
    if isinstance(linecount, int) and linecount > MAX_PIECES:
        raise RenderLimitExceeded("size", f"batch() of more than {MAX_PIECES} items")


@_filter_check("slice")
def _slice(value: Any, slices: Any, fill_with: Any = None) -> None:
    if isinstance(slices, int) and slices > MAX_PIECES:
        raise RenderLimitExceeded("size", f"slice() into more than {MAX_PIECES} parts")


@_filter_check("tojson")
def _tojson(value: Any, indent: Any = None) -> None:
    if isinstance(indent, int) and indent > 64:
        raise RenderLimitExceeded("size", "tojson() with an indent over 64")
    _allow_value(value)


@_filter_check("sum")
def _sum(iterable: Any, attribute: Any = None, start: Any = 0) -> None:
    if not isinstance(start, (int, float)):  # summing lists or strings copies them over and over
        raise RenderLimitExceeded("size", "sum() works on numbers only in templates")


for _name in ("string", "pprint", "urlencode", "list"):
    _FILTER_CHECKS[_name] = lambda value, *a, **k: _allow_value(value)


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that counts what it builds; the ones that pad, join or repeat check their arguments
    first. (No clock here: a filter's work is bounded by its input, and loops and calls tick.)"""
    check = _FILTER_CHECKS.get(name)
    skip = 1 if _PassArg.from_obj(func) is not None else 0

    if check is None:

        @wraps(func)
        def filtered(*args: Any, **kwargs: Any) -> Any:
            result = func(*args, **kwargs)
            if isinstance(result, str):  # inlined spend(): filters are the hottest hook
                budget = _local.budget
                budget.work_left -= len(result)
                if budget.work_left < 0:
                    budget.spend(0)
            return result

        return filtered

    @wraps(func)
    def checked(*args: Any, **kwargs: Any) -> Any:
        check(*args[skip:], **kwargs)
        result = func(*args, **kwargs)
        if isinstance(result, str):
            _local.budget.spend(len(result))
        return result

    return checked


def _bounded_test(func: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(func)
    def tested(*args: Any, **kwargs: Any) -> Any:
        _budget().tick()
        return func(*args, **kwargs)

    return tested


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    if n > 20 or max > 200:
        raise RenderLimitExceeded("size", "lipsum() is limited to 20 paragraphs of 200 words")
    return generate_lorem_ipsum(n, html, min, max)


def _finalize(value: Any) -> Any:
    """Every `{{ ... }}`: a container is measured before it is turned into text (text is counted where
    it goes: the output, or a block's buffer)."""
    if not isinstance(value, (str, int, float)):
        budget = _budget()
        size = weight(value, budget.limits.max_bytes)
        budget.allow(size)
        budget.spend(size)
    return value


class _Buffer(list[Any]):
    """What a captured block, macro or filter block writes into: counted as it grows, since it can
    grow for as long as the time limit allows before anything joins it."""

    __slots__ = ("_budget",)

    def __init__(self) -> None:
        super().__init__()
        self._budget = _budget()

    def append(self, piece: Any) -> None:
        self._budget.spend(len(piece) + 8)
        super().append(piece)

    def extend(self, pieces: Iterable[Any]) -> None:
        pieces = tuple(pieces)
        self._budget.spend(sum(map(len, pieces)) + 8 * len(pieces))
        super().extend(pieces)


class _CodeGenerator(CodeGenerator):
    def buffer(self, frame: Frame) -> None:
        frame.buffer = self.temporary_identifier()
        self.writeline(f"{frame.buffer} = environment.new_buffer()")


class _TemplateWithBoundedJoins:
    """Mixin for the template class: the compiled module's joins are the bounded ones."""

    @classmethod
    def _from_namespace(cls, environment: Any, namespace: Any, globals: Any) -> Any:
        namespace["str_join"] = _str_join
        namespace["markup_join"] = _markup_join
        return super()._from_namespace(environment, namespace, globals)  # type: ignore[misc]  # a mixin: the Template it is mixed into has it


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """An immutable sandbox whose templates render only inside limited()."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    code_generator_class = _CodeGenerator

    def __init__(self, **options: Any) -> None:
        super().__init__(optimized=False, finalize=_finalize, **options)
        self.template_class = type("BoundedTemplate", (_TemplateWithBoundedJoins, self.template_class), {})
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}
        self.tests = {name: _bounded_test(f) for name, f in self.tests.items()}  # type: ignore[arg-type]  # jinja2 infers its default tests' type as `function`, not a Callable
        self.globals["lipsum"] = _lipsum
        self.concat = _concat  # type: ignore[method-assign]  # the bounded join replaces Environment.concat on purpose
        self.new_buffer = _Buffer

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            wrapper = nodes.ImportedName(f"{__name__}.ticking", lineno=loop.lineno)
            loop.iter = nodes.Call(wrapper, [loop.iter], [], None, None, lineno=loop.lineno)
        return tree

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        budget = _budget()
        budget.tick()
        _check_binop(operator, left, right)
        result = self.binop_table[operator](left, right)
        if isinstance(result, (str, list, tuple)):
            budget.spend(len(result))
        return result

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        budget = _budget()
        budget.tick()
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str) and not isinstance(__obj, type):
            name = getattr(__obj, "__name__", "")
            size = _str_method_size(owner, name, args, kwargs)
            if size == -1:  # str.join: look at the pieces first
                pieces = list(args[0])
                budget.allow(weight(pieces, budget.limits.max_bytes) + len(owner) * len(pieces))
                args = (pieces, *args[1:])
            elif size is not None:
                budget.allow(size)
        result = super().call(__context, __obj, *args, **kwargs)
        if isinstance(result, (str, list, tuple)):
            budget.spend(len(result))
        return result

    def getitem(self, obj: Any, argument: Any) -> Any:
        result = super().getitem(obj, argument)
        if isinstance(argument, slice) and isinstance(result, (str, list, tuple)):
            _budget().spend(len(result))
        return result

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        f_self = value.__self__
        formatter: Formatter = (
            _BoundedEscapeFormatter(self, escape=f_self.escape)
            if isinstance(f_self, Markup)
            else _BoundedFormatter(self)
        )
        is_format_map = value.__name__ == "format_map"

        def bounded(*args: Any, **kwargs: Any) -> str:
            if is_format_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                kwargs, args = args[0], ()
            _budget().allow(len(f_self))
            return type(f_self)(formatter.vformat(f_self, args, kwargs))

        return update_wrapper(bounded, value)


class limited:  # noqa: N801 - used like a function: `with limited(limits):`
    """The budget of one message: the renders inside share its time and size (RenderLimitExceeded).
    A class rather than a @contextmanager: it is entered once per message, thousands of times a second."""

    __slots__ = ("limits",)

    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    def __enter__(self) -> None:
        _local.budget = _Budget(self.limits)

    def __exit__(self, *exc: object) -> None:
        _local.budget = None


class Substitution:
    """A template that is only text and plain `{{ name }}` outputs (the usual mail merge), rendered by
    joining its pieces instead of running Jinja's machinery: the same output as the Jinja template for
    string and number values, at a fraction of the cost. A value of any other type, or a name that
    would resolve to one of the environment's globals, is left to the Jinja template (render returns
    None). No loop, call or operator runs, so the output size is the only limit that can bite."""

    __slots__ = ("_escape", "_globals", "_slots", "_texts")

    def __init__(self, pieces: list[tuple[bool, str]], autoescape: bool, globals_: Collection[str]) -> None:
        # the literal text with a hole at each variable; the holes' positions and names
        self._texts = ["" if is_name else text for is_name, text in pieces]
        self._slots = [(i, name) for i, (is_name, name) in enumerate(pieces) if is_name]
        self._escape = autoescape
        self._globals = globals_

    @classmethod
    def of(cls, environment: "BoundedEnvironment", source: str) -> "Substitution | None":
        """The substitution for a template source, or None when it does more than substitute names."""
        pieces: list[tuple[bool, str]] = []  # (is a variable, literal text or variable name)
        for node in environment.parse(source).body:
            if not isinstance(node, nodes.Output):
                return None
            for child in node.nodes:
                if type(child) is nodes.TemplateData:
                    pieces.append((False, child.data))
                elif type(child) is nodes.Name and child.ctx == "load":
                    pieces.append((True, child.name))
                else:
                    return None
        autoescape = bool(environment.autoescape)  # a constant here: render.py never passes a callable
        return cls(pieces, autoescape, frozenset(environment.globals))

    def render(self, context: Mapping[str, Any]) -> str | None:
        """The output for these values inside `limited()`, counted toward the message size; None when a
        value needs the Jinja template (not a string or number, or a global name not in the context)."""
        out = self._texts.copy()
        get = context.get
        for slot, name in self._slots:
            value = get(name, _MISSING)
            kind = type(value)
            if kind is str:
                if self._escape and _HTML_SPECIAL.search(value) is not None:
                    value = str(escape(value))
                out[slot] = value
            elif kind is int or kind is float:
                out[slot] = str(value)
            elif value is _MISSING and name not in self._globals:
                continue  # undefined: empty, as ChainableUndefined renders it
            else:
                return None
        result = "".join(out)
        budget = _budget()
        budget.output_left -= len(result)
        if budget.output_left < 0:
            raise RenderLimitExceeded("size", f"the message would be larger than {budget.limits.describe_size()}")
        return result


_HTML_SPECIAL = re.compile("[&<>\"']")  # what markupsafe.escape replaces
_MISSING = object()


def render(template: Any, context: Mapping[str, Any]) -> str:
    """Render a template of this environment inside `limited()`; its output counts toward the message size."""
    budget = _budget()
    budget.start_clock()
    left = budget.output_left
    pieces: list[str] = []
    append = pieces.append
    output = template.root_render_func(template.new_context(context))
    try:
        for piece in output:
            left -= len(piece)
            if left < 0:
                exc = RenderLimitExceeded("size", f"the message would be larger than {budget.limits.describe_size()}")
                # where the template was writing: its generator stands at that line
                exc.line = template.get_corresponding_lineno(output.gi_frame.f_lineno)
                raise exc
            append(piece)
    except Exception:
        template.environment.handle_exception()  # re-raises with the template's lines in the traceback
    budget.output_left = left
    return "".join(pieces)
