"""Settings: the SMTP relay and the bounce mailbox, each with a "Test connection" button that shows
the specific error; the suppression policy thresholds; the sweep interval. Secrets are write-only.

"Test connection" tests what is typed and stores nothing: the page comes back with every field as it
was typed (a typed password included, in that response only), and only "Save settings" stores."""

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from app.bounces.mailbox import MailboxError, check_mailbox
from app.config_store import EDITABLE, SECRETS, SettingsInvalid, save_settings, validate_changes
from app.deps import EngineDep, SettingsDep
from app.i18n import gettext as _
from app.sending.relay import test_connection
from app.settings import Settings
from app.web.forms import FRESH, FormState, refused
from app.web.templating import render

router = APIRouter()

# RCPT TO for the relay check, in a reserved domain: a relay that refuses it would refuse real recipients
PROBE_RECIPIENT = "connection-test@example.com"


def _shown(s: Settings) -> dict[str, Any]:
    """What the form shows: every value except the secrets, which only say whether one is saved."""
    values: dict[str, Any] = {k: getattr(s, k) for k in EDITABLE if k not in SECRETS}
    values.update({f"{k}_saved": getattr(s, k) is not None for k in SECRETS})
    return values


def _page(
    request: Request,
    current: Settings,
    form: FormState = FRESH,
    checks: dict[str, tuple[bool, str]] | None = None,
    unsaved: bool = True,
) -> HTMLResponse:
    """The form with the saved values, or with what was submitted (`unsaved`, when it differs from
    them: the page asks before it is left). A saved secret is never written into the page; a typed one
    is given back as typed."""
    shown = _shown(current)
    typed = {k: v for k, v in form.values.items() if k in SECRETS and v}
    shown.update({k: v for k, v in form.values.items() if k not in SECRETS})
    context = {
        "v": shown,
        "typed": typed,
        "unsaved": bool(form.values) and unsaved,
        "errors": form.errors,
        "checks": checks or {},
    }
    response = render(request, "settings.html", context, form.status_code)
    response.headers["Cache-Control"] = "no-store"  # a typed password must not stay in a cache
    return response


@router.get("/settings", response_class=HTMLResponse)
def settings_page(request: Request, settings: SettingsDep) -> HTMLResponse:
    return _page(request, settings)


@router.post("/settings", response_class=HTMLResponse)
async def save(request: Request, settings: SettingsDep, engine: EngineDep) -> Response:
    form = await request.form()
    action = form.get("action", "save")
    submitted = {k: v for k in EDITABLE if isinstance(v := form.get(k), str)}
    # an empty secret keeps the saved one
    changes = {k: v for k, v in submitted.items() if not (k in SECRETS and v == "")}
    try:
        candidate = settings.model_copy(update=validate_changes(changes))
    except SettingsInvalid as exc:
        return _page(request, settings, refused(exc.errors, submitted))
    unsaved = candidate != settings
    if action in ("test_relay", "test_mailbox"):
        request.state.audit_skip = True  # a check: nothing is stored
    if action == "test_relay":
        check = await run_in_threadpool(test_connection, candidate, candidate.bounce_address, PROBE_RECIPIENT)
        return _page(request, settings, FormState(values=submitted), {"relay": (check.ok, check.message)}, unsaved)
    if action == "test_mailbox":
        try:
            result = (True, await run_in_threadpool(check_mailbox, candidate))
        except MailboxError as exc:
            result = (False, str(exc))
        return _page(request, settings, FormState(values=submitted), {"mailbox": result}, unsaved)
    await run_in_threadpool(save_settings, engine, changes)
    request.session["notice"] = _("Settings saved; the worker and the sweep use them from their next round.")
    return RedirectResponse("/settings", status_code=303)
