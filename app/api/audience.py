"""/api/v1 routes for audience."""

from fastapi import APIRouter

router = APIRouter()
