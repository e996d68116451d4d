"""/api/v1/campaigns/{campaign_id}/report: the numbers of the campaign's report page."""

from fastapi import APIRouter

from app.api.campaign_cache import campaign_or_404
from app.deps import Id, SessionDep, SettingsDep
from app.tracking.report import Report, report_of

router = APIRouter(prefix="/campaigns", tags=["campaigns"])


@router.get("/{campaign_id}/report", response_model=Report)
def get_report(campaign_id: Id, session: SessionDep, settings: SettingsDep) -> Report:
    """Delivered, bounced by reason, complained, unsubscribed by list; opens and clicks by people and by
    machines (with the rule that decided) in total, per hour and per link; results per receiving domain
    and provider; the deliverability guard's rates over 24 hours and 7 days."""
    report = report_of(session, settings, campaign_id)
    if report is None:
        campaign_or_404(session, campaign_id)  # answers the API's 404 problem
    assert report is not None
    return report
