"""Settings: the SMTP relay and the bounce mailbox, each with a "Test connection" button that shows
the specific error; the suppression policy thresholds; the sweep interval. Secrets are write-only."""

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from app.api.deps import EngineDep, SettingsDep
from app.bounces.mailbox import MailboxError, check_mailbox
from app.config_store import EDITABLE, SECRETS, SettingsInvalid, effective_settings, save_settings, validate_changes
from app.sending.relay import test_connection
from app.settings import Settings
from app.web.templating import render

router = APIRouter()

# RCPT TO for the relay check, in a reserved domain: a relay that refuses it would refuse real recipients
PROBE_RECIPIENT = "connection-test@example.com"


def _shown(s: Settings) -> dict[str, Any]:
    """What the form shows: every value except the secrets, which only say whether one is saved."""
    values: dict[str, Any] = {k: getattr(s, k) for k in EDITABLE if k not in SECRETS}
    values.update({f"{k}_saved": getattr(s, k) is not None for k in SECRETS})
    return values


def _page(request: Request, current: Settings, values: dict[str, Any] | None = None,
          errors: dict[str, str] | None = None, checks: dict[str, tuple[bool, str]] | None = None,
          status_code: int = 200) -> HTMLResponse:  # fmt: skip
    shown = _shown(current)
    shown.update({k: v for k, v in (values or {}).items() if k not in SECRETS})
    return render(request, "settings.html", {"v": shown, "errors": errors or {}, "checks": checks or {}}, status_code)


@router.get("/settings", response_class=HTMLResponse)
async def settings_page(request: Request, settings: SettingsDep, engine: EngineDep) -> HTMLResponse:
    return _page(request, await run_in_threadpool(effective_settings, settings, engine))


@router.post("/settings", response_class=HTMLResponse)
async def save(request: Request, settings: SettingsDep, engine: EngineDep) -> Response:
    form = await request.form()
    action = form.get("action", "save")
    submitted = {k: v for k in EDITABLE if isinstance(v := form.get(k), str)}
    # an empty secret keeps the saved one
    changes = {k: v for k, v in submitted.items() if not (k in SECRETS and v == "")}
    current = await run_in_threadpool(effective_settings, settings, engine)
    try:
        candidate = current.model_copy(update=validate_changes(changes))
    except SettingsInvalid as exc:
        return _page(request, current, submitted, exc.errors, status_code=400)
    if action == "test_relay":
        check = await run_in_threadpool(test_connection, candidate, candidate.bounce_address, PROBE_RECIPIENT)
        return _page(request, current, submitted, checks={"relay": (check.ok, check.message)})
    if action == "test_mailbox":
        try:
            result = (True, await run_in_threadpool(check_mailbox, candidate))
        except MailboxError as exc:
            result = (False, str(exc))
        return _page(request, current, submitted, checks={"mailbox": result})
    await run_in_threadpool(save_settings, engine, changes)
    request.session["notice"] = "Settings saved; the worker and the sweep use them from their next round."
    return RedirectResponse("/settings", status_code=303)
