"""Segments: saved, named conditions over contacts, evaluated whenever an audience is compiled."""

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from app.models.types import NAME_LENGTH, TEXT_LENGTH, UTCDateTime, utcnow


class Segment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=NAME_LENGTH, unique=True)
    description: str = Field(default="", max_length=TEXT_LENGTH)
    expression: str = Field(sa_type=Text, description="in the segment language (app.audience.segments.parse)")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
