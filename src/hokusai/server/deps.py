"""Injectable dependencies, each declared once as an ``Annotated`` alias; routes just name them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from hokusai.config import Settings
from hokusai.server.state import AppState


def get_state(request: Request) -> AppState:
    """The running app's shared state."""
    return request.app.state.hokusai


def get_settings(state: Annotated[AppState, Depends(get_state)]) -> Settings:
    """The settings the app was created with."""
    return state.settings


def get_db(state: Annotated[AppState, Depends(get_state)]) -> Iterator[Session]:
    """One session per request, closed afterwards."""
    with state.sessions() as session:
        yield session


StateDep = Annotated[AppState, Depends(get_state)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_db)]
