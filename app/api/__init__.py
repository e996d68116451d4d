"""The JSON API: one router per resource, mounted under /api/v1 by app.main."""

from fastapi import APIRouter

from app.api import audience, bounces, campaigns

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(audience.router)
api_router.include_router(campaigns.router)
api_router.include_router(bounces.router)
