"""The five routes of a table an admin keeps beside the settings (relays, sending identities): list, create,
read, change, remove, each through its feature package, whose Refused becomes a problem naming the field."""

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic

from fastapi import APIRouter, Response
from pydantic import BaseModel
from sqlmodel import Session

from app.api.errors import refusals
from app.api.pagination import CursorQuery, LimitQuery, Page
from app.api.resources import M, P, Resource, deleted
from app.deps import Id, SessionDep, SettingsDep
from app.settings import Settings


@dataclass(frozen=True)
class Service(Generic[M, P]):
    """What the feature package offers for the table (the caller of each commits)."""

    page: Callable[[Session, int, str | None], tuple[list[M], str | None]]
    public: Callable[[M], P]
    create: Callable[[Session, Settings, Any], M]
    change: Callable[[Session, Settings, M, dict[str, Any]], None]
    remove: Callable[[Session, M], None]


def serve(
    router: APIRouter,
    tag: str,
    path: str,
    resource: Resource[M, P],
    service: Service[M, P],
    bodies: tuple[type[BaseModel], type[BaseModel]],
    docs: dict[str, str],
) -> None:
    """Mount PATH and PATH/{id} on ROUTER under the OpenAPI TAG; BODIES are the create and update schemas, DOCS the descriptions
    of "list", "create" and "delete"."""
    create_body, update_body = bodies
    one = f"{path}/{{{resource.param}}}"

    def list_rows(session: SessionDep, limit: LimitQuery = 100, cursor: CursorQuery = None) -> Page[Any]:
        items, next_cursor = service.page(session, limit, cursor)
        return Page(items=[service.public(r) for r in items], next_cursor=next_cursor)

    def create_row(body: Any, session: SessionDep, settings: SettingsDep) -> Any:
        with refusals():
            row = service.create(session, settings, body)
        session.commit()
        return service.public(row)

    def get_row(ident: Id, session: SessionDep) -> Any:
        return service.public(resource.get(session, ident))

    def update_row(ident: Id, body: Any, session: SessionDep, settings: SettingsDep) -> Any:
        row = resource.get(session, ident)
        with refusals():
            service.change(session, settings, row, body.model_dump(exclude_unset=True))
        session.commit()
        return service.public(row)

    def delete_row(ident: Id, session: SessionDep) -> Response:
        with refusals(resource.param):
            return deleted(session, service.remove, resource.get(session, ident))

    # FastAPI reads the schemas and the path parameter's name from the signatures
    create_row.__annotations__["body"] = create_body
    update_row.__annotations__["body"] = update_body
    noun, public, param = resource.noun.replace(" ", "_"), resource.public, resource.param
    routes: list[tuple[str, Callable[..., Any], str, dict[str, Any]]] = [
        (path, list_rows, "GET", {"response_model": Page[public], "name": f"list_{tag}"}),  # type: ignore[valid-type]
        (path, create_row, "POST", {"response_model": public, "status_code": 201, "name": f"create_{noun}"}),
        (one, _named(get_row, param), "GET", {"response_model": public, "name": f"get_{noun}"}),
        (one, _named(update_row, param), "PATCH", {"response_model": public, "name": f"update_{noun}"}),
        (one, _named(delete_row, param), "DELETE", {"status_code": 204, "name": f"delete_{noun}"}),
    ]
    for at, endpoint, method, options in routes:
        kind = options["name"].split("_")[0]
        router.add_api_route(at, endpoint, methods=[method], tags=[tag], description=docs.get(kind, ""), **options)


def _named(route: Callable[..., Any], param: str) -> Callable[..., Any]:
    """ROUTE with its `ident` parameter shown to FastAPI as PARAM (relay_id, identity_id), as the path names it."""

    def call(**kwargs: Any) -> Any:
        kwargs["ident"] = kwargs.pop(param)
        return route(**kwargs)

    signature = inspect.signature(route)
    shown = [p.replace(name=param) if p.name == "ident" else p for p in signature.parameters.values()]
    call.__signature__ = signature.replace(parameters=shown)  # type: ignore[attr-defined]
    return call
