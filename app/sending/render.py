"""Campaign templates: Jinja2 in a sandbox, checked when the campaign is saved or launched so a
send never stops half-way on a template error.

Variables: `email`, `first_name`, `last_name`, `attributes` (the contact's dict), `unsubscribe_url`,
`campaign` (its name), and every attribute key at the top level (a built-in name wins over an
attribute of the same name). A name that is neither a built-in nor an attribute key of some contact
in the audience is refused. A contact that lacks an attribute another contact has renders it empty."""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import ChainableUndefined, StrictUndefined, TemplateError, TemplateSyntaxError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

BUILTINS = frozenset({"email", "first_name", "last_name", "attributes", "unsubscribe_url", "campaign"})
FIELDS = ("subject", "html", "text")


class TemplateProblem(ValueError):
    """A template that cannot be used; `field` is the campaign field (subject_template, html_template...)."""

    def __init__(self, field: str, message: str, line: int | None = None) -> None:
        self.field = field
        self.line = line
        self.detail = f"line {line}: {message}" if line else message
        super().__init__(f"{field}: {self.detail}")


def _env(autoescape: bool, strict: bool) -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(
        autoescape=autoescape,
        undefined=StrictUndefined if strict else ChainableUndefined,
        keep_trailing_newline=True,
        auto_reload=False,
        cache_size=0,
    )


_ENVS = {(a, s): _env(a, s) for a in (True, False) for s in (True, False)}


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


@dataclass
class CampaignTemplates:
    """The three compiled templates of a campaign."""

    subject: Any
    html: Any
    text: Any

    @classmethod
    def compile(cls, subject: str, html: str, text: str, strict: bool = False) -> "CampaignTemplates":
        compiled = {}
        for part, source in zip(FIELDS, (subject, html, text), strict=True):
            env = _ENVS[(part == "html", strict)]
            try:
                compiled[part] = env.from_string(source)
            except TemplateSyntaxError as exc:
                raise TemplateProblem(field_name(part), exc.message or "syntax error", exc.lineno) from exc
        return cls(**compiled)

    def render(self, ctx: Mapping[str, Any]) -> tuple[str, str, str]:
        """(subject, html, text) for one recipient."""
        return self.subject.render(ctx), self.html.render(ctx), self.text.render(ctx)


def check_templates(
    subject: str, html: str, text: str, attribute_keys: Iterable[str], samples: Iterable[Mapping[str, Any]] = ()
) -> None:
    """Raise TemplateProblem unless every template parses, uses only known names, and renders for each
    sample contact (or a stand-in when the audience is empty)."""
    if not html.strip() and not text.strip():
        raise TemplateProblem("html_template", "a campaign needs an HTML or a text body")
    attribute_keys = set(attribute_keys)
    known = BUILTINS | attribute_keys
    env = _ENVS[(False, True)]
    for part, source in zip(FIELDS, (subject, html, text), strict=True):
        try:
            names = meta.find_undeclared_variables(env.parse(source))
        except TemplateSyntaxError as exc:
            raise TemplateProblem(field_name(part), exc.message or "syntax error", exc.lineno) from exc
        for name in sorted(names - known):
            raise TemplateProblem(
                field_name(part),
                f"unknown variable {name!r}; known: {', '.join(sorted(known))}",
                _line_of(source, name),
            )
    templates = CampaignTemplates.compile(subject, html, text, strict=True)
    # real contacts when there are any (a stand-in's made-up values could fail where real ones work)
    contexts = list(samples) or [contact_context("someone@example.com", "Ann", "Example", {})]
    blanks = dict.fromkeys(attribute_keys, "")  # as at send time: an attribute a contact lacks is empty
    for ctx in contexts:
        full = {**blanks, **ctx, "unsubscribe_url": "https://example.com/u/x", "campaign": "campaign"}
        for part in FIELDS:
            try:
                getattr(templates, part).render(full)
            except TemplateError as exc:
                raise TemplateProblem(
                    field_name(part), f"does not render for {ctx.get('email')}: {exc}", _error_line(exc)
                ) from exc
            except Exception as exc:  # a filter or operator on the wrong type: still the template's fault
                raise TemplateProblem(
                    field_name(part), f"does not render for {ctx.get('email')}: {type(exc).__name__}: {exc}"
                ) from exc


def _error_line(exc: BaseException) -> int | None:
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
