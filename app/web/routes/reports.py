"""A campaign's report page and its CSV export."""

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from app.audience.export import csv_lines
from app.deps import SessionDep, SettingsDep
from app.i18n import gettext as _
from app.tracking import chart
from app.tracking.report import Report, csv_rows, report_of
from app.web.templating import render

router = APIRouter()


def _report(session: SessionDep, settings: SettingsDep, campaign_id: int) -> Report:
    report = report_of(session, settings, campaign_id)
    if report is None:
        raise HTTPException(404, _("no campaign %(id)s", id=campaign_id))
    return report


@router.get("/campaigns/{campaign_id}/report", response_class=HTMLResponse)
def report_page(campaign_id: int, request: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    report = _report(session, settings, campaign_id)
    return render(request, "report.html", {"r": report, "chart": chart.svg(report.timeline)})


@router.get("/campaigns/{campaign_id}/report.csv")
def report_csv(campaign_id: int, session: SessionDep, settings: SettingsDep) -> StreamingResponse:
    rows = csv_rows(_report(session, settings, campaign_id))
    return StreamingResponse(
        csv_lines(["section", "item", "metric", "value"], rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="campaign-{campaign_id}-report.csv"'},
    )
