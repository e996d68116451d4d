"""Request and response shapes of segments (the API's)."""

from datetime import datetime

from pydantic import BaseModel, Field

EXPRESSION_HELP = (
    "in the segment language, e.g. `country = 'DE' and not bounced within 90 days and list in ('News')`; "
    "see the README's segment language"
)


class SegmentCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    expression: str = Field(min_length=1, max_length=4000, description=EXPRESSION_HELP)
    description: str = Field(default="", max_length=2000)


class SegmentUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    expression: str | None = Field(default=None, min_length=1, max_length=4000, description=EXPRESSION_HELP)
    description: str | None = Field(default=None, max_length=2000)


class SegmentPublic(BaseModel):
    id: int
    name: str
    description: str
    expression: str = Field(description="as saved: the canonical form of what was sent")
    created_at: datetime
    updated_at: datetime


class SegmentPreviewRequest(BaseModel):
    expression: str = Field(min_length=1, max_length=4000, description=EXPRESSION_HELP)


class SegmentPreview(BaseModel):
    expression: str = Field(description="the canonical form")
    count: int = Field(description="the contacts it matches now (before suppressions and a send's exclusions)")
    sample: list[str] = Field(description="the first few of them (addresses)")
