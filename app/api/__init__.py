"""The JSON API: one router per resource, mounted under /api/v1 by app.main, every route behind an API key."""

from fastapi import APIRouter, Depends

from app.api import audience, bounces, campaigns
from app.api.auth import require_api_key

api_router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_api_key)])
api_router.include_router(audience.router)
api_router.include_router(campaigns.router)
api_router.include_router(bounces.router)
