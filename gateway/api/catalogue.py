"""`GET /v1/catalogue`: datasets, fields and their classifications, from policies/catalogue.yaml."""

from __future__ import annotations

from fastapi import APIRouter, Request

from gateway.api.auth import CurrentPrincipal
from gateway.api.services import services
from gateway.catalogue import Catalogue

router = APIRouter(prefix="/v1", tags=["catalogue"])


@router.get("/catalogue", response_model=Catalogue)
def catalogue(request: Request, _principal: CurrentPrincipal) -> Catalogue:
    return services(request).catalogue
