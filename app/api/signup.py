"""/api/v1 routes for a list's signup: its settings (read, change), and a subscribe for a CMS that has its own
form (write key; Idempotency-Key like every POST). The subscribe answers 202 `accepted` for every address
it takes, known or not, and queues the confirmation (double opt-in) or welcome mail."""

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from app.api.errors import get_or_404, request_error
from app.deps import EngineDep, Id, SessionDep, SettingsDep
from app.models import MailingList
from app.settings import Settings
from app.subscription import consent, forms
from app.subscription.schemas import (
    ConsentTextPublic,
    SignupSettingsPublic,
    SignupSettingsUpdate,
    SubscribeAccepted,
    SubscribeRequest,
)
from app.subscription.signup import NoSuchForm, SignupRefused, Submission, request_signup

router = APIRouter(tags=["signup"])


def _public(session: SessionDep, settings: Settings, ml: MailingList) -> SignupSettingsPublic:
    assert ml.id is not None  # a stored list
    seen = forms.overview(session, settings.base_url, ml.id)
    form, text = seen.form, seen.consent
    return SignupSettingsPublic(
        list_id=ml.id,
        public=form.public,
        double_opt_in=form.double_opt_in,
        fields=list(form.fields),
        consent_text=ConsentTextPublic(version=text.version, text=text.text, created_at=text.created_at)
        if text
        else None,
        confirm_subject=form.confirm_subject,
        confirm_text=form.confirm_text,
        welcome_subject=form.welcome_subject,
        welcome_text=form.welcome_text,
        form_url=seen.form_url,
        snippet=seen.snippet,
        unconfirmed=seen.unconfirmed,
        updated_at=form.updated_at,
    )


@router.get("/lists/{list_id}/signup", response_model=SignupSettingsPublic)
def get_signup(list_id: Id, session: SessionDep, settings: SettingsDep) -> SignupSettingsPublic:
    return _public(session, settings, get_or_404(session, MailingList, list_id, "list_id", "list"))


@router.patch("/lists/{list_id}/signup", response_model=SignupSettingsPublic)
def update_signup(
    list_id: Id, body: SignupSettingsUpdate, session: SessionDep, settings: SettingsDep
) -> SignupSettingsPublic:
    ml = get_or_404(session, MailingList, list_id, "list_id", "list")
    try:
        forms.save(session, ml, forms.Changes(**body.model_dump()))
    except forms.SignupInvalid as exc:
        raise request_error(422, ["body", exc.field], exc.message) from None
    session.commit()
    return _public(session, settings, ml)


@router.post(
    "/lists/{list_id}/subscribe",
    response_model=SubscribeAccepted,
    status_code=202,
    description="Subscribe a person who signed up on the CMS's own form (private lists too). The answer is the "
    "same for a new, waiting, subscribed or suppressed address, and so is the time it takes: the values are "
    "checked now and the signup is carried out by the background job moments later.",
)
async def subscribe_person(
    list_id: Id, body: SubscribeRequest, request: Request, session: SessionDep, engine: EngineDep
) -> SubscribeAccepted:
    session.rollback()  # the signup has its own transaction
    client = request.client.host if request.client else None
    actor = consent.Actor(
        consent.ActorKind.API_KEY,
        getattr(request.state, "api_key_label", "API key"),
        body.ip or client,
        body.user_agent,
    )
    submission = Submission(
        email=body.email,
        first_name=body.first_name,
        last_name=body.last_name,
        fields=body.fields,
        consent_version=body.consent_text_version,
        language=body.language,
    )
    try:
        await run_in_threadpool(request_signup, engine, list_id, submission, actor, False)
    except NoSuchForm as exc:
        raise request_error(404, ["path", "list_id"], str(exc), "not_found") from None
    except SignupRefused as exc:
        where = (
            ["body", exc.field] if exc.field in ("email", "first_name", "last_name") else ["body", "fields", exc.field]
        )
        raise request_error(422, where, exc.message) from None
    return SubscribeAccepted(status="accepted")
