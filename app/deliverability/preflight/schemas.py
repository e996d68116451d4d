"""The preflight as the API answers it."""

from datetime import datetime

from pydantic import BaseModel, Field

from app.deliverability.preflight.findings import Finding, Status
from app.deliverability.preflight.service import PreflightReport


class PreflightRequest(BaseModel):
    refresh: bool = Field(
        default=False, description="check again now instead of reusing a result younger than the cache time"
    )


class FindingPublic(BaseModel):
    check: str = Field(description="spf, dkim, dmarc, alignment, ptr, helo, list_unsubscribe, unsubscribe_link, "
                       "size or spam_score")  # fmt: skip
    status: Status
    message: str = Field(description="what was found, naming the record, header or part")
    fix: str | None = Field(description="what to change (none when the check passed or was skipped)")


class PreflightPublic(BaseModel):
    campaign_id: int
    ok: bool = Field(description="no problem found (warnings may remain)")
    checked_at: datetime
    cached: bool = Field(description="a result kept from an earlier check (see refresh)")
    message_bytes: int = Field(description="size of the sample message checked")
    problems: list[FindingPublic]
    warnings: list[FindingPublic]
    checks: list[FindingPublic] = Field(description="every finding, passed and skipped ones included")

    @classmethod
    def of(cls, campaign_id: int, report: PreflightReport) -> "PreflightPublic":
        def shape(found: list[Finding]) -> list[FindingPublic]:
            return [FindingPublic(check=f.check, status=f.status, message=f.message, fix=f.fix) for f in found]

        return cls(
            campaign_id=campaign_id,
            ok=report.ok,
            checked_at=report.checked_at,
            cached=report.cached,
            message_bytes=report.sample_bytes,
            problems=shape(report.problems),
            warnings=shape(report.warnings),
            checks=shape(report.findings),
        )
