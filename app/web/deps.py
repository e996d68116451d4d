"""Dependencies of the web pages: the signed-in user (else a redirect to sign-in) and CSRF."""

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from sqlmodel import Session

from app.deps import EngineDep
from app.models import User
from app.web.csrf import require_csrf


def current_user(request: Request, engine: EngineDep) -> User:
    user_id = request.session.get("uid")
    user = None
    if user_id is not None:
        with Session(engine) as session:
            user = session.get(User, user_id)
    if user is None:
        request.session.pop("uid", None)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        # a 303 with Location is a redirect to the browser; no exception handler needed
        raise HTTPException(303, "sign in first", headers={"Location": f"/login?next={quote(target, safe='')}"})
    return user


UserDep = Annotated[User, Depends(current_user)]
# every signed-in page router: the user first (an expired session redirects before CSRF complains)
SIGNED_IN = [Depends(current_user), Depends(require_csrf)]
