"""Liveness and database reachability, for load balancers and the README's first check."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app import __version__
from app.db import ping
from app.deps import EngineDep

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    version: str
    database: str


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
def healthz(engine: EngineDep) -> JSONResponse:
    try:
        ping(engine)
    except Exception as exc:  # any driver error means "not reachable" to a health check
        body = Health(status="error", version=__version__, database=f"unreachable: {type(exc).__name__}")
        return JSONResponse(body.model_dump(), status_code=503)
    body = Health(status="ok", version=__version__, database=engine.dialect.name)
    return JSONResponse(body.model_dump())
