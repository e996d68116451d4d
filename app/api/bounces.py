"""/api/v1 routes for bounces."""

from fastapi import APIRouter

router = APIRouter()
