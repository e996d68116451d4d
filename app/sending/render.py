"""Campaign templates: Jinja2 in a bounded sandbox (app/sending/sandbox.py), checked when the campaign
is saved or launched so a send never stops half-way on a template error.

Variables: `email`, `first_name`, `last_name`, `attributes` (the contact's dict), `unsubscribe_url`,
`preferences_url` (the contact's preference page), `view_in_browser_url` (the message on the web: see
app.sending.archive), `campaign` (its name), and every attribute key at the top level (a built-in name wins over an
attribute of the same name). A name that is neither a built-in nor an attribute key of some contact
in the audience is refused. A contact that lacks an attribute another contact has renders it empty.

Every render of one message (subject, HTML and text together) has the limits of `render_limits()`:
CPU time and size (BULKMAIL_RENDER_TIMEOUT_SECONDS, BULKMAIL_RENDER_MAX_BYTES)."""

import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import ChainableUndefined, StrictUndefined, TemplateSyntaxError, meta

from app.sending.sandbox import BoundedEnvironment, Limits, RenderLimitExceeded, Substitution, limited, render
from app.settings import Settings

BUILTINS = frozenset(
    {
        "email",
        "first_name",
        "last_name",
        "attributes",
        "unsubscribe_url",
        "preferences_url",
        "view_in_browser_url",
        "campaign",
    }
)
FIELDS = ("subject", "html", "text")
# The check on save stops trying more sample contacts once it has used this many times the per-message
# time limit (the send itself still holds every message to the limit).
CHECK_BUDGET_MESSAGES = 3


class TemplateProblem(ValueError):
    """A template that cannot be used; `field` is the campaign field (subject, html_template...)."""

    def __init__(self, field: str, message: str, line: int | None = None) -> None:
        self.field = field
        self.line = line
        self.message = message
        self.detail = f"line {line}: {message}" if line else message
        super().__init__(f"{field}: {self.detail}")


class TemplateProblems(TemplateProblem):
    """Every problem found in a campaign's templates at once; field/line/detail are the first one's."""

    def __init__(self, problems: list[TemplateProblem]) -> None:
        self.problems = problems
        first = problems[0]
        super().__init__(first.field, first.detail)
        self.line = first.line
        self.args = ("; ".join(str(p) for p in problems),)


class RenderFailed(ValueError):
    """One message could not be rendered; the message is written for the campaign's ledger. `part`
    is the template at fault: subject, html or text."""

    def __init__(self, message: str, part: str) -> None:
        self.part = part
        super().__init__(message)


def render_limits(settings: Settings) -> Limits:
    return Limits(settings.render_timeout_seconds, settings.render_max_bytes)


def _env(autoescape: bool, strict: bool) -> BoundedEnvironment:
    return BoundedEnvironment(
        autoescape=autoescape,
        undefined=StrictUndefined if strict else ChainableUndefined,
        keep_trailing_newline=True,
        auto_reload=False,
        cache_size=0,
    )


_ENVS = {(a, s): _env(a, s) for a in (True, False) for s in (True, False)}


def syntax_env() -> BoundedEnvironment:
    """The environment an HTML template is checked with (parse it to find its syntax errors)."""
    return _ENVS[(True, True)]


def field_name(part: str) -> str:
    return "subject" if part == "subject" else f"{part}_template"


def _line_of(source: str, name: str) -> int | None:
    m = re.search(rf"\b{re.escape(name)}\b", source)
    return source.count("\n", 0, m.start()) + 1 if m else None


def contact_context(
    email: str, first_name: str | None, last_name: str | None, attributes: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The template variables of one contact (without unsubscribe_url and campaign)."""
    attrs = dict(attributes or {})
    ctx: dict[str, Any] = {k: v for k, v in attrs.items() if isinstance(k, str) and k not in BUILTINS}
    ctx.update(email=email, first_name=first_name or "", last_name=last_name or "", attributes=attrs)
    return ctx


def _why(exc: BaseException) -> str:
    """A template's runtime error in words, without Python's exception class names."""
    if isinstance(exc, RenderLimitExceeded):
        return str(exc)
    if isinstance(exc, RecursionError):
        return "a macro or recursive loop calls itself too deeply"
    text = str(exc) or "error"
    return text[:300]


def _error_line(exc: BaseException) -> int | None:
    tb = exc.__traceback__
    line = getattr(exc, "line", None) if isinstance(exc, RenderLimitExceeded) else None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


@dataclass
class CampaignTemplates:
    """The three compiled templates of a campaign, and for those that only substitute names their
    Substitution (the same output without Jinja's per-render cost)."""

    subject: Any
    html: Any
    text: Any
    substitutions: dict[str, Substitution] = field(default_factory=dict)

    @classmethod
    def compile(cls, subject: str, html: str, text: str, strict: bool = False) -> "CampaignTemplates":
        compiled: dict[str, Any] = {}
        substitutions = {}
        for part, source in zip(FIELDS, (subject, html, text), strict=True):
            env = _ENVS[(part == "html", strict)]
            try:
                compiled[part] = env.from_string(source)
            except TemplateSyntaxError as exc:
                raise TemplateProblem(field_name(part), exc.message or "syntax error", exc.lineno) from exc
            plain = None if strict else Substitution.of(env, source)  # strict: an unknown name must raise
            if plain is not None:
                substitutions[part] = plain
        return cls(**compiled, substitutions=substitutions)

    def render(
        self, ctx: Mapping[str, Any], limits: Limits | None = None, parts: Iterable[str] = FIELDS
    ) -> tuple[str, ...]:
        """The given parts (subject, html, text) for one recipient, within one message's limits.
        Raises RenderFailed naming the template, the line and the reason."""
        out = []
        with limited(limits or Limits()):
            for part in parts:
                try:
                    plain = self.substitutions.get(part)
                    text = plain.render(ctx) if plain is not None else None
                    out.append(text if text is not None else render(getattr(self, part), ctx))
                except Exception as exc:  # an error, a limit, a filter on the wrong type: the template's fault
                    line = _error_line(exc)
                    where = f" at line {line}" if line else ""
                    raise RenderFailed(
                        f"the {part} template failed for this contact{where}: {_why(exc)}", part
                    ) from exc
        return tuple(out)


def check_templates(
    subject: str,
    html: str,
    text: str,
    attribute_keys: Iterable[str],
    samples: Iterable[Mapping[str, Any]] = (),
    limits: Limits | None = None,
) -> None:
    """Raise TemplateProblems, with every problem of every template, unless each template parses, uses
    only known names, and renders within the limits for each sample contact (or a stand-in when the
    audience is empty)."""
    limits = limits or Limits()
    if not html.strip() and not text.strip():
        raise TemplateProblems([TemplateProblem("html_template", "a campaign needs an HTML or a text body")])
    attribute_keys = set(attribute_keys)
    known = BUILTINS | attribute_keys
    problems: list[TemplateProblem] = []
    compiled: dict[str, Any] = {}
    for part, source in zip(FIELDS, (subject, html, text), strict=True):
        env = _ENVS[(part == "html", True)]
        try:
            names = meta.find_undeclared_variables(env.parse(source))
        except TemplateSyntaxError as exc:
            problems.append(TemplateProblem(field_name(part), exc.message or "syntax error", exc.lineno))
            continue
        unknown = [
            TemplateProblem(
                field_name(part),
                f"unknown variable {name!r}; known: {', '.join(sorted(known))}",
                _line_of(source, name),
            )
            for name in sorted(names - known)
        ]
        if unknown:
            problems += unknown
            continue
        compiled[part] = env.from_string(source)
    problems += _render_samples(compiled, attribute_keys, samples, limits)
    if problems:
        problems.sort(key=lambda p: FIELDS.index(p.field.removesuffix("_template")))
        raise TemplateProblems(problems)


def _render_samples(
    compiled: dict[str, Any], attribute_keys: set[str], samples: Iterable[Mapping[str, Any]], limits: Limits
) -> list[TemplateProblem]:
    # real contacts when there are any (a stand-in's made-up values could fail where real ones work)
    contexts = list(samples) or [contact_context("someone@example.com", "Ann", "Example", {})]
    blanks = dict.fromkeys(attribute_keys, "")  # as at send time: an attribute a contact lacks is empty
    problems = []
    budget_end = time.thread_time() + CHECK_BUDGET_MESSAGES * limits.seconds
    for ctx in contexts:
        full = {
            **blanks,
            **ctx,
            "unsubscribe_url": "https://example.com/u/x",
            "preferences_url": "https://example.com/p/x",
            "view_in_browser_url": "https://example.com/view/x",
            "campaign": "campaign",
        }
        for part in [p for p in FIELDS if p in compiled]:
            try:  # each template on its own, so each gets its own verdict
                with limited(limits):
                    render(compiled[part], full)
            except Exception as exc:
                problems.append(
                    TemplateProblem(
                        field_name(part), f"does not render for {ctx.get('email')}: {_why(exc)}", _error_line(exc)
                    )
                )
                del compiled[part]
        if not compiled or time.thread_time() > budget_end:
            break
    return problems
