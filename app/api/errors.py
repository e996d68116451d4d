"""Errors on /api/v1 as `application/problem+json` (RFC 9457), each naming the field at fault.

A problem has `type`, `title`, `status`, `detail`, `instance` and, for errors about the request's
content, `errors`: one entry per field with its location (`loc`, FastAPI's shape), a dotted `field`,
a JSON `pointer` into the body (body fields only) and a message. Pages outside /api keep FastAPI's
own error responses."""

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http import HTTPStatus
from typing import Any, TypeVar

from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError
from sqlmodel import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.keyset import BadCursor
from app.sending.refused import Refused

T = TypeVar("T")

log = logging.getLogger(__name__)

PROBLEM_TYPE = "application/problem+json"
API_PREFIX = "/api/"


class FieldError(BaseModel):
    loc: list[str | int] = Field(description='where: ["body", "contacts", 3, "email"], ["query", "limit"]')
    field: str = Field(description="the location as a dotted path without its first part, e.g. contacts.3.email")
    pointer: str | None = Field(default=None, description="JSON pointer into the request body (body fields only)")
    msg: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(default="about:blank", examples=["about:blank"])
    title: str = Field(examples=["Unprocessable Content"])
    status: int = Field(examples=[422])
    detail: str = Field(examples=["body.name: String should have at least 1 character"])
    instance: str = Field(description="the request path", examples=["/api/v1/lists"])
    errors: list[FieldError] = Field(default_factory=list)


# RFC 9110's names where Python's http module still has the older ones
_TITLES = {413: "Content Too Large", 422: "Unprocessable Content"}


def _title(status: int) -> str:
    if status in _TITLES:
        return _TITLES[status]
    return HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"


def _response(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description, "content": {PROBLEM_TYPE: {}}}


# Added to every /api/v1 route's OpenAPI responses.
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _response("malformed request (e.g. a bad pagination cursor)"),
    401: _response("missing, unknown or revoked API key"),
    403: _response("a read key on a write endpoint"),
    404: _response("no such resource"),
    409: _response("conflict with the resource's state, or a duplicate request still in progress"),
    413: _response("request body larger than the limit"),
    422: _response("invalid input; `errors` names each field"),
    429: _response("rate limit exceeded; retry after the Retry-After header's seconds"),
}


def field_error(loc: list[Any], msg: str, type_: str = "value_error") -> FieldError:
    parts = [p for p in loc[1:]]
    pointer = "#/" + "/".join(str(p) for p in parts) if loc and loc[0] == "body" else None
    return FieldError(loc=list(loc), field=".".join(str(p) for p in parts), pointer=pointer, msg=msg, type=type_)


def request_error(status: int, loc: list[Any], msg: str, type_: str = "value_error") -> HTTPException:
    """An error about one part of the request, raised in FastAPI's validation shape so the problem
    names the field the same way a validation error does."""
    return HTTPException(status, detail=[{"loc": loc, "msg": msg, "type": type_}])


@contextmanager
def refusals(path_param: str | None = None) -> Iterator[None]:
    """A feature package's Refused as a problem naming its body field (or the path parameter PATH_PARAM, for
    a row that cannot go)."""
    try:
        yield
    except Refused as exc:
        loc = ["path", path_param] if path_param else ["body", exc.field]
        raise request_error(exc.status, loc, str(exc)) from None


def get_or_404(session: Session, model: type[T], ident: int, param: str, noun: str) -> T:
    """The row a path parameter names, or a 404 problem naming that parameter."""
    row = session.get(model, ident)
    if row is None:
        raise request_error(404, ["path", param], f"no {noun} with id {ident}", "not_found")
    return row


def problem_response(
    request: Request,
    status: int,
    detail: str,
    errors: list[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        title=_title(status),
        status=status,
        detail=detail,
        instance=request.url.path,
        errors=errors or [],
    )
    return JSONResponse(body.model_dump(), status_code=status, headers=headers, media_type=PROBLEM_TYPE)


def _errors_from(raw: Any) -> list[FieldError]:
    out = []
    for e in raw:
        loc = [p for p in e.get("loc", ()) if p is not None]
        out.append(field_error(loc, str(e.get("msg", "")), str(e.get("type", "value_error"))))
    return out


def _summary(errors: list[FieldError]) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e.loc)}: {e.msg}" for e in errors)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if not _is_api(request):
        return await http_exception_handler(request, exc)
    detail: Any = exc.detail
    if isinstance(detail, list):  # routers raise field errors in FastAPI's validation shape
        errors = _errors_from(jsonable_encoder(detail))
        return problem_response(request, exc.status_code, _summary(errors), errors, exc.headers)
    return problem_response(request, exc.status_code, str(detail), None, exc.headers)


async def _bad_cursor(request: Request, exc: Exception) -> Response:
    # every list's `?cursor=` (a page resumes after a bad one itself, see app.web.paging)
    return await _http_error(request, request_error(400, ["query", "cursor"], str(exc)))


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if not _is_api(request):
        return await request_validation_exception_handler(request, exc)
    errors = _errors_from(jsonable_encoder(exc.errors()))
    return problem_response(request, 422, _summary(errors), errors)


async def _out_of_range(request: Request, exc: Exception) -> Response:
    # a number the database cannot hold (an id beyond 32 bits in a body or a query): it names nothing
    if not _is_api(request):
        return await _unexpected(request, exc)
    return problem_response(request, 422, "a number in the request is out of range for the database")


async def _unexpected(request: Request, exc: Exception) -> Response:
    # logged with its traceback; the client sees no internals
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    if not _is_api(request):
        return Response("Internal Server Error", status_code=500, media_type="text/plain")
    return problem_response(request, 500, "internal error; it has been logged")


def install(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(BadCursor, _bad_cursor)
    app.add_exception_handler(OverflowError, _out_of_range)  # SQLite
    app.add_exception_handler(DataError, _out_of_range)  # PostgreSQL: NumericValueOutOfRange
    app.add_exception_handler(Exception, _unexpected)
