"""The segment language, read by a recursive-descent parser into the tree of `tree.py`.

    expression := term ("or" term)*
    term       := factor ("and" factor)*
    factor     := "not" factor | "(" expression ")" | condition
    condition  := FIELD OP value | FIELD ["not"] "in" "(" value ("," value)* ")"
                | FIELD "contains" 'text' | FIELD "is" ["not"] "empty" | FIELD "within" N "days"
                | EVENT qualifier*
    EVENT      := received | bounced | complained | unsubscribed | opened | clicked
    qualifier  := hard | soft | reason 'text' (bounced) | link 'URL' (clicked) | including machines
                  (opened, clicked) | campaign N | within N days
    value      := 'text' (a quote doubled inside: 'O''Brien') | number | true | false

Words are case-insensitive; values are compared as typed. Every error names the line, column and
offset where it is and what was expected there."""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

from app.audience.fields import Definition
from app.audience.segments.fields import CONSENT_STATES, OPERATORS, catalogue
from app.audience.segments.tree import ENGAGEMENT, EVENTS, Condition, Event, Group, Node, Not, Value

MAX_LENGTH = 4000
MAX_DEPTH = 20
MAX_CONDITIONS = 100
MAX_DAYS = 36500

_TOKEN = re.compile(
    r"(?P<space>\s+)|(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<number>-?\d+(?:\.\d+)?)|(?P<string>')"
    r"|(?P<op><=|>=|!=|<>|=|<|>)|(?P<punct>[(),])"
)


class SegmentError(ValueError):
    """An expression that cannot be used: the message says what was expected, `offset` (0-based),
    `line` and `column` (1-based) where."""

    def __init__(self, source: str, offset: int, message: str) -> None:
        self.offset = offset
        self.line = source.count("\n", 0, offset) + 1
        self.column = offset - (source.rfind("\n", 0, offset) + 1) + 1
        self.message = message
        super().__init__(f"line {self.line}, column {self.column}: {message}")


@dataclass(frozen=True)
class Token:
    kind: str  # word | number | string | op | punct | end
    text: str
    offset: int
    value: Value = ""

    def shown(self) -> str:
        if self.kind == "end":
            return "the end of the expression"
        return f"'{self.text}'" if self.kind != "string" else f"the text {self.text}"


def tokens(source: str) -> list[Token]:
    out: list[Token] = []
    i = 0
    while i < len(source):
        m = _TOKEN.match(source, i)
        if m is None:
            raise SegmentError(source, i, f"unexpected character {source[i]!r}")
        kind = m.lastgroup or ""
        if kind == "string":
            value, end = _string(source, i)
            out.append(Token("string", source[i:end], i, value))
            i = end
            continue
        if kind == "number":
            text = m.group()
            out.append(Token("number", text, i, float(text) if "." in text else int(text)))
        elif kind != "space":
            out.append(Token(kind, m.group(), i, m.group()))
        i = m.end()
    out.append(Token("end", "", len(source)))
    return out


def _string(source: str, start: int) -> tuple[str, int]:
    parts, i = [], start + 1
    while True:
        end = source.find("'", i)
        if end < 0:
            raise SegmentError(source, start, "this text has no closing quote (')")
        parts.append(source[i:end])
        if source.startswith("''", end):  # a doubled quote is one quote
            parts.append("'")
            i = end + 2
            continue
        return "".join(parts), end + 1


class _Parser:
    def __init__(self, source: str, fields: Mapping[str, Definition]) -> None:
        self.source = source
        self.fields = fields
        self.tokens = tokens(source)
        self.i = 0
        self.depth = 0
        self.count = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.i]

    def fail(self, expected: str, token: Token | None = None) -> SegmentError:
        token = token or self.token
        return SegmentError(self.source, token.offset, f"expected {expected}, found {token.shown()}")

    def word(self, *words: str) -> bool:
        """Consume the next token if it is one of these words."""
        if self.token.kind == "word" and self.token.text.lower() in words:
            self.i += 1
            return True
        return False

    def expect_word(self, word: str, expected: str) -> None:
        if not self.word(word):
            raise self.fail(expected)

    def punct(self, char: str) -> bool:
        if self.token.kind == "punct" and self.token.text == char:
            self.i += 1
            return True
        return False

    def parse(self) -> Node:
        if self.token.kind == "end":
            raise self.fail("a condition such as country = 'DE'")
        node = self.expression()
        if self.token.kind != "end":
            if self.token.text == ")":
                raise SegmentError(self.source, self.token.offset, "found ')' where no '(' opened it")
            raise self.fail("and, or, or the end of the expression")
        return node

    def expression(self) -> Node:
        return self._chain("or", self.term)

    def term(self) -> Node:
        return self._chain("and", self.factor)

    def _chain(self, op: str, part: Callable[[], Node]) -> Node:
        start = self.token.offset
        items = [part()]
        while self.word(op):
            items.append(part())
        return items[0] if len(items) == 1 else Group(op, tuple(items), start)

    def factor(self) -> Node:
        start = self.token
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise SegmentError(self.source, start.offset, f"nested too deeply (at most {MAX_DEPTH} levels)")
        try:
            if self.word("not"):
                return Not(self.factor(), start.offset)
            if self.punct("("):
                node = self.expression()
                if not self.punct(")"):
                    raise self.fail("')' to close the '(' at column " + str(_column(self.source, start.offset)))
                return node
            self.count += 1
            if self.count > MAX_CONDITIONS:
                raise SegmentError(self.source, start.offset, f"too many conditions (at most {MAX_CONDITIONS})")
            return self.condition()
        finally:
            self.depth -= 1

    def condition(self) -> Node:
        token = self.token
        name = token.text.lower()
        if token.kind != "word" or name in ("and", "or", "not", "in", "is"):
            raise self.fail(
                "a field, list, consent or an event (received, bounced, complained, unsubscribed, opened, clicked)"
            )
        self.i += 1
        if name in EVENTS:
            return self.event(name, token.offset)
        info = self.fields.get(name)
        if info is None:
            raise SegmentError(
                self.source, token.offset, f"no field named '{token.text}' (known: {', '.join(self.fields)})"
            )
        return self.field_condition(info, token.offset)

    def event(self, name: str, offset: int) -> Event:
        hard: bool | None = None
        reason: str | None = None
        campaign: int | None = None
        days: int | None = None
        link: str | None = None
        machines = False
        while True:
            token = self.token
            if name == "bounced" and hard is None and self.word("hard", "soft"):
                hard = token.text.lower() == "hard"
            elif name == "bounced" and reason is None and self.word("reason"):
                reason = str(self.value("text", "a reason in quotes, e.g. 'mailbox_full'"))
            elif name == "clicked" and link is None and self.word("link"):
                link = str(self.value("text", "the link's URL in quotes, e.g. 'https://shop.example/sale'"))
            elif name in ENGAGEMENT and not machines and self.word("including"):
                self.expect_word_any(("machines", "machine"), "'machines' after 'including'")
                machines = True
            elif campaign is None and self.word("campaign"):
                campaign = self.whole("a campaign id", 1, 2**31 - 1)
            elif days is None and self.word("within"):
                days = self.days()
            else:
                return Event(name, hard, reason, campaign, days, offset, link, machines)

    def days(self) -> int:
        days = self.whole("a number of days", 1, MAX_DAYS)
        self.expect_word_any(("days", "day"), "'days'")
        return days

    def expect_word_any(self, words: tuple[str, ...], expected: str) -> None:
        if not self.word(*words):
            raise self.fail(expected)

    def whole(self, what: str, low: int, high: int) -> int:
        token = self.token
        if token.kind != "number" or not isinstance(token.value, int) or not low <= token.value <= high:
            raise self.fail(f"{what} (a whole number from {low} to {high})")
        self.i += 1
        return token.value

    def field_condition(self, info: Definition, offset: int) -> Condition:
        token = self.token
        allowed = OPERATORS[info.type]
        op = self.operator()
        if op not in allowed:
            raise self.fail(f"one of {', '.join(allowed)} after {info.name}", token)
        if op in ("is empty", "is not empty"):
            return Condition(info.name, op, (), offset)
        if op == "within":
            return Condition(info.name, op, (self.days(),), offset)
        if op in ("in", "not in"):
            if not self.punct("("):
                raise self.fail(f"'(' and a list of values after {op}")
            values = [self.typed(info)]
            while self.punct(","):
                values.append(self.typed(info))
            if not self.punct(")"):
                raise self.fail("',' or ')'")
            return Condition(info.name, op, tuple(values), offset)
        return Condition(info.name, op, (self.typed(info),), offset)

    def operator(self) -> str:
        token = self.token
        if token.kind == "op":
            self.i += 1
            return "!=" if token.text == "<>" else token.text
        if self.word("in"):
            return "in"
        if self.word("contains"):
            return "contains"
        if self.word("within"):
            return "within"
        if self.word("not"):
            self.expect_word("in", "'in' after 'not'")
            return "not in"
        if self.word("is"):
            negated = self.word("not")
            self.expect_word("empty", "'empty'")
            return "is not empty" if negated else "is empty"
        raise self.fail("an operator (=, !=, <, <=, >, >=, in, not in, contains, is empty, within)")

    def typed(self, info: Definition) -> Value:
        """The next value, checked against the field's kind."""
        token = self.token
        kind = info.type
        if kind == "number":
            return self.value("number", "a number")
        if kind == "boolean":
            return self.value("boolean", "true or false")
        if kind in ("date", "created"):
            text = str(self.value("text", "a date in quotes, e.g. '2026-05-01'"))
            try:
                return date.fromisoformat(text)
            except ValueError:
                raise self.fail("a date written YYYY-MM-DD", token) from None
        if kind == "list":
            if token.kind == "number":
                return self.whole("a list id", 1, 2**31 - 1)
            return self.value("text", "a list name in quotes or a list id")
        text = str(self.value("text", "a value in quotes, e.g. 'DE'"))
        if kind == "consent" and text not in CONSENT_STATES:
            raise self.fail("one of " + ", ".join(f"'{s}'" for s in CONSENT_STATES), token)
        if kind == "choice":
            match = next((c for c in info.choices if c.lower() == text.lower()), None)
            if match is None:
                raise self.fail(
                    f"one of the options of {info.name}: " + ", ".join(f"'{c}'" for c in info.choices), token
                )
            return match
        return text

    def value(self, kind: str, expected: str) -> Value:
        token = self.token
        if kind == "text" and token.kind == "string":
            self.i += 1
            return token.value
        if kind == "number" and token.kind == "number":
            self.i += 1
            return token.value
        if kind == "boolean" and token.kind == "word" and token.text.lower() in ("true", "false"):
            self.i += 1
            return token.text.lower() == "true"
        raise self.fail(expected)


def _column(source: str, offset: int) -> int:
    return offset - (source.rfind("\n", 0, offset) + 1) + 1


def parse(source: str, custom: Mapping[str, Definition]) -> Node:
    """The tree of an expression; raises SegmentError naming the position."""
    if len(source) > MAX_LENGTH:
        raise SegmentError(source, MAX_LENGTH, f"too long (at most {MAX_LENGTH} characters)")
    if "\x00" in source:
        raise SegmentError(source, source.index("\x00"), "unexpected character '\\x00'")
    return _Parser(source, catalogue(custom)).parse()
