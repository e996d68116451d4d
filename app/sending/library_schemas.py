"""Request and response shapes of the template library (saved templates and layouts)."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

TemplateKind = Literal["template", "layout"]
TemplateLanguage = Literal["jinja", "mjml"]


class TemplateCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    kind: TemplateKind = Field(
        default="template", description="template: a campaign starts from it; layout: wraps a campaign's bodies"
    )
    template_language: TemplateLanguage = Field(default="jinja", description="jinja or mjml (the HTML part)")
    subject: str = Field(default="", max_length=998)
    html_template: str = Field(default="", description="a layout's has a {{ content }} slot for the body")
    text_template: str = Field(default="", description="a layout's may have a {{ content }} slot too")


class TemplatePublic(TemplateCreate):
    id: int
    created_at: datetime
    updated_at: datetime


class TemplateUpdate(BaseModel):
    """The parts given are changed (a layout still to be sent with keeps its parts: 409); its kind stays."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    template_language: TemplateLanguage | None = None
    subject: str | None = Field(default=None, max_length=998)
    html_template: str | None = None
    text_template: str | None = None
