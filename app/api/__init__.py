"""The JSON API: one router per resource, mounted under /api/v1 by app.main."""

from fastapi import APIRouter

api_router = APIRouter(prefix="/api/v1")
