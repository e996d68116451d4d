"""/api/v1 routes for transactional messages: send one now, read its state, list them."""

from fastapi import APIRouter, Request

from app.api.errors import refusals, request_error
from app.api.pagination import CursorQuery, LimitQuery, Page
from app.deps import EngineDep, Id, SessionDep, SettingsDep
from app.sending import transactional
from app.sending.transactional_schemas import MessageCreate, MessagePublic

router = APIRouter(prefix="/messages", tags=["messages"])


@router.post("", response_model=MessagePublic, status_code=201)
def send_message(body: MessageCreate, request: Request, engine: EngineDep, settings: SettingsDep) -> MessagePublic:
    """Send one message now (a password reset, a receipt): a saved template (`template_id`) with `data`, or a
    `subject` with `html` and/or `text`, to `to`, through `identity_id` (none: the settings' sender). It goes to
    the relay before this answers; `state` says what the relay did: `sent`, `deferred` (tried again on the retry
    schedule), `failed`, or `queued` (the relay could not be reached: the sending workers take it, ahead of any
    campaign). Send an `Idempotency-Key`: a retry with the same key answers with the same message and never sends
    it again. An address that bounced, complained, was erased or blocked by hand is refused (422 naming `to` and
    why); an unsubscribe does not stop a transactional message."""
    with refusals():
        return transactional.send(engine, settings, body, getattr(request.state, "api_key_id", None))


@router.get("", response_model=Page[MessagePublic])
def list_messages(session: SessionDep, limit: LimitQuery = 50, cursor: CursorQuery = None) -> Page[MessagePublic]:
    """Transactional messages, newest first."""
    items, next_cursor = transactional.messages_page(session, limit, cursor)
    return Page(items=items, next_cursor=next_cursor)


@router.get("/{message_id}", response_model=MessagePublic)
def get_message(message_id: Id, engine: EngineDep) -> MessagePublic:
    """A message's state: queued, deferred, sent, failed, expired, cancelled (its address was suppressed before it
    went) or bounced (the sweep found it returned), with the relay's last reply."""
    found = transactional.message(engine, message_id)
    if found is None:
        raise request_error(404, ["path", "message_id"], f"no message with id {message_id}", "not_found")
    return found
