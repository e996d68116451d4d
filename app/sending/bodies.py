"""What a campaign's templates are before they are rendered per recipient: its bodies put into its layout's
`{{ content }}` slot, and MJML compiled to HTML, once per campaign (a Composer, a check, a preview).

A problem is reported where the marketer typed it: a line of the combined template that came from the body is
given as the body's line, one that came from the layout names the layout. After an MJML compile the HTML's
lines are MRML's, so a render error there is given without a line (a Jinja2 syntax error is found in the MJML
itself first, at its line)."""

import hashlib
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from threading import Lock

from jinja2 import TemplateSyntaxError
from sqlmodel import Session

from app.models import Campaign, MessageTemplate
from app.sending.mjml import MjmlProblem, compile_mjml
from app.sending.render import TemplateProblem, TemplateProblems, syntax_env
from app.sending.sandbox import Limits

LANGUAGES = ("jinja", "mjml")
SLOT = re.compile(r"\{\{\s*content\s*\}\}")
_CACHE_SIZE = 32  # compiled MJML kept: a preview recompiles on every keystroke pause, a send once


@dataclass(frozen=True)
class Slot:
    """Where a body sits in its layout: its first line in the combined template and how many lines it has
    (`lines` None: there is no layout, the lines are the body's)."""

    start: int = 1
    lines: int | None = None

    def place(self, line: int | None) -> tuple[bool, int | None]:
        """(whether the combined template's LINE is the body's, the line in the body or in the layout)."""
        if line is None or self.lines is None:
            return True, line
        if self.start <= line < self.start + self.lines:
            return True, line - self.start + 1
        return False, line if line < self.start else line - self.lines + 1


def wrap(layout: str, body: str) -> tuple[str, Slot]:
    """The layout with the body in its first {{ content }} slot (its other slots too)."""
    m = SLOT.search(layout)
    if m is None:
        return body, Slot()
    start = layout.count("\n", 0, m.start()) + 1
    return SLOT.sub(lambda _m: body, layout), Slot(start, body.count("\n") + 1)


@dataclass(frozen=True)
class Bodies:
    subject: str
    html: str
    text: str
    html_slot: Slot = field(default_factory=Slot)
    text_slot: Slot = field(default_factory=Slot)
    compiled: bool = False  # the HTML was compiled from MJML: its lines are not the source's

    def locate(self, problem: TemplateProblem) -> TemplateProblem:
        """PROBLEM (found in these combined templates) told at the body's line, or as the layout's."""
        part = problem.field.removesuffix("_template")
        if part not in ("html", "text"):
            return problem
        message = problem.message
        if part == "html" and self.compiled:
            return TemplateProblem(problem.field, message)
        in_body, line = (self.html_slot if part == "html" else self.text_slot).place(problem.line)
        if in_body:
            return TemplateProblem(problem.field, message, line)
        return TemplateProblem("layout_id", f"the layout's {part} part: {message}", line)


class _Compiled:
    def __init__(self) -> None:
        self.lock = Lock()
        self.kept: OrderedDict[str, str] = OrderedDict()

    def get(self, source: str, limits: Limits) -> str:
        key = hashlib.sha256(f"{limits}\0{source}".encode()).hexdigest()
        with self.lock:
            if key in self.kept:
                self.kept.move_to_end(key)
                return self.kept[key]
        html = compile_mjml(source, limits)
        with self.lock:
            self.kept[key] = html
            while len(self.kept) > _CACHE_SIZE:
                self.kept.popitem(last=False)
        return html


_compiled = _Compiled()


def assemble(
    subject: str, html: str, text: str, language: str, layout: MessageTemplate | None, limits: Limits
) -> Bodies:
    """The templates a campaign (or a form being typed) renders per recipient. Raises TemplateProblems for a
    layout of the other language, MJML that does not compile or Jinja2 in it that does not parse."""
    if language not in LANGUAGES:
        raise TemplateProblems([TemplateProblem("template_language", f"must be one of {', '.join(LANGUAGES)}")])
    html_slot = text_slot = Slot()
    if layout is not None:
        if layout.template_language != language:
            raise TemplateProblems(
                [TemplateProblem("layout_id", f"the layout is {layout.template_language}; this campaign is {language}")]
            )
        if html.strip():
            html, html_slot = wrap(layout.html_template, html)
        if text.strip():
            text, text_slot = wrap(layout.text_template, text)
    bodies = Bodies(subject, html, text, html_slot, text_slot)
    if language != "mjml" or not html.strip():
        return bodies
    try:  # Jinja2's syntax first, at the MJML's own lines: after the compile they are gone
        syntax_env().parse(html)
    except TemplateSyntaxError as exc:
        problem = TemplateProblem("html_template", exc.message or "syntax error", exc.lineno)
        raise TemplateProblems([bodies.locate(problem)]) from None
    try:
        compiled = _compiled.get(html, limits)
    except MjmlProblem as exc:
        problem = TemplateProblem("html_template", f"MJML: {exc}", exc.line)
        raise TemplateProblems([bodies.locate(problem)]) from None
    return Bodies(subject, compiled, text, html_slot, text_slot, compiled=True)


def layout_of(session: Session, layout_id: int | None) -> MessageTemplate | None:
    """The layout a campaign names; TemplateProblems when it is not a saved layout."""
    if layout_id is None:
        return None
    layout = session.get(MessageTemplate, layout_id)
    if layout is None or layout.kind != "layout":
        raise TemplateProblems([TemplateProblem("layout_id", f"no layout {layout_id}")])
    return layout


def of_campaign(session: Session, campaign: Campaign, limits: Limits) -> Bodies:
    layout = layout_of(session, campaign.layout_id)
    return assemble(
        campaign.subject, campaign.html_template, campaign.text_template, campaign.template_language, layout, limits
    )
