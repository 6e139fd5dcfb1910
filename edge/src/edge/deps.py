"""The handlers' way to the clients and helpers that the lifespan created."""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import Depends, Request

from edge.auth import Authenticator
from edge.settings import EdgeSettings
from gateway_shared.identity import IdentitySigner


async def _policy(request: Request) -> httpx.AsyncClient:
    client: httpx.AsyncClient = request.app.state.policy
    return client


async def _auth(request: Request) -> Authenticator:
    auth: Authenticator = request.app.state.auth
    return auth


async def _signer(request: Request) -> IdentitySigner:
    signer: IdentitySigner = request.app.state.signer
    return signer


async def _settings(request: Request) -> EdgeSettings:
    settings: EdgeSettings = request.app.state.settings
    return settings


PolicyClient = Annotated[httpx.AsyncClient, Depends(_policy)]
Auth = Annotated[Authenticator, Depends(_auth)]
Signer = Annotated[IdentitySigner, Depends(_signer)]
Settings = Annotated[EdgeSettings, Depends(_settings)]
