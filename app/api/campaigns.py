"""/api/v1 routes for campaigns."""

from fastapi import APIRouter

router = APIRouter()
