"""``GET /api/v1/me``: who the token or session belongs to (an integration's first check)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from postroom.web.deps import CurrentUser

router = APIRouter(prefix="/api/v1", tags=["users"])


class Me(BaseModel):
    id: int
    email: str
    name: str
    role: str
    time_zone: str
    created_at: datetime


@router.get("/me", response_model=Me, summary="The signed-in user")
def get_me(user: CurrentUser) -> Me:
    return Me(
        id=user.id,
        email=user.email,
        name=user.name,
        role=user.role.value,
        time_zone=user.time_zone,
        created_at=user.created_at,
    )
