"""/api/v1 route for the CMS push: upsert website users as contacts, with a result per row."""

from fastapi import APIRouter
from sqlalchemy.exc import IntegrityError

from app.api.errors import request_error
from app.audience.cms import CmsUser, upsert_users
from app.audience.schemas import ContactResult, ContactsUpsert, ContactsUpsertResult
from app.deps import SessionDep
from app.models import MailingList, utcnow

router = APIRouter(tags=["audience"])


@router.post(
    "/contacts/bulk",
    response_model=ContactsUpsertResult,
    description="Upsert up to 10,000 website users keyed by the CMS's user id, with a result per row. "
    "A user whose address changed is updated, not duplicated.",
)
def upsert_contacts(body: ContactsUpsert, session: SessionDep) -> ContactsUpsertResult:
    if body.list_id is not None and session.get(MailingList, body.list_id) is None:
        raise request_error(422, ["body", "list_id"], f"no list with id {body.list_id}")
    users = [CmsUser(c.external_id, c.email, c.first_name, c.last_name, c.attributes) for c in body.contacts]
    try:
        results = upsert_users(session, users, body.list_id, utcnow())
        session.commit()
    except IntegrityError:
        session.rollback()
        raise request_error(409, ["body", "contacts"], "another request changed the same contacts; retry") from None
    by_status = {s: sum(1 for r in results if r.status == s) for s in ("added", "updated", "unchanged")}
    return ContactsUpsertResult(
        **by_status,
        rejected=len(results) - sum(by_status.values()),
        results=[ContactResult(**r.__dict__) for r in results],
    )
