"""The API reference, offline: Swagger UI at ``/docs`` and ReDoc at ``/redoc``, every asset served by the API.

FastAPI's own pages load Swagger UI and ReDoc from a CDN (and ReDoc's fonts from Google Fonts), so on a
machine without internet access ``/docs`` is blank. The assets come from the ``fastapi-offline`` package
(PyPI, MIT): its ``static/`` folder holds the unmodified ``swagger-ui-dist`` 5 and ``redoc`` 2 bundles (one
JS file each, plus Swagger UI's CSS), with nothing but FastAPI as a dependency. Only those files are used,
not its app factory: ``create_app`` builds its own app. The bundles' upstream licences (Apache-2.0 with its
NOTICE for Swagger UI, MIT for ReDoc), which that package does not ship, are kept in ``docs_licences/`` and
served next to the bundles, where the bundles' header comments point. Pages are built with FastAPI's
``get_swagger_ui_html`` / ``get_redoc_html``; the online spec validator badge and Google Fonts are off.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse

from hokusai.errors import NotFound
from hokusai.server.deps import Checked

ASSETS_PATH = "/docs/assets"
OAUTH2_REDIRECT_PATH = "/docs/oauth2-redirect"
_BUNDLES = Path(str(files("fastapi_offline") / "static"))
_LICENCES = Path(__file__).resolve().parents[1] / "docs_licences"
# name served -> (file, media type); nothing else under /docs/assets exists
ASSETS: dict[str, tuple[Path, str]] = {
    "swagger-ui-bundle.js": (_BUNDLES / "swagger-ui-bundle.js", "text/javascript"),
    "swagger-ui.css": (_BUNDLES / "swagger-ui.css", "text/css"),
    "redoc.standalone.js": (_BUNDLES / "redoc.standalone.js", "text/javascript"),
    "favicon.png": (_BUNDLES / "favicon.png", "image/png"),
    **{
        path.name: (path, "text/plain; charset=utf-8")
        for path in sorted(_LICENCES.iterdir())
        if path.is_file() and not path.name.startswith(".")
    },
}
CACHE_SECONDS = 86400

router = APIRouter(include_in_schema=False, dependencies=[Checked])  # public rows of the policy table


def _urls(request: Request) -> tuple[str, str, str]:
    """The OpenAPI document's URL, the assets' base URL and the OAuth2 redirect, under the app's root path."""
    root = request.scope.get("root_path", "").rstrip("/")
    return f"{root}{request.app.openapi_url}", f"{root}{ASSETS_PATH}", f"{root}{OAUTH2_REDIRECT_PATH}"


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI on the live OpenAPI document; "Authorize" takes an API key as a bearer token."""
    openapi, assets, redirect = _urls(request)
    return get_swagger_ui_html(
        openapi_url=openapi,
        title=f"{request.app.title} - Swagger UI",
        oauth2_redirect_url=redirect,
        swagger_js_url=f"{assets}/swagger-ui-bundle.js",
        swagger_css_url=f"{assets}/swagger-ui.css",
        swagger_favicon_url=f"{assets}/favicon.png",
        swagger_ui_parameters={"validatorUrl": None},  # the badge would load an image from swagger.io
    )


@router.get(OAUTH2_REDIRECT_PATH)
async def swagger_ui_redirect() -> HTMLResponse:
    """Swagger UI's OAuth2 redirect page (self-contained)."""
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    """ReDoc on the live OpenAPI document, with the system fonts (no Google Fonts)."""
    openapi, assets, _ = _urls(request)
    return get_redoc_html(
        openapi_url=openapi,
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=f"{assets}/redoc.standalone.js",
        redoc_favicon_url=f"{assets}/favicon.png",
        with_google_fonts=False,
    )


@router.get(f"{ASSETS_PATH}/{{name}}")
async def asset(name: str) -> FileResponse:
    """One packaged asset by name (a fixed list: no path is ever built from the request)."""
    if name not in ASSETS:
        raise NotFound(f"no documentation asset named {name!r}")
    path, media_type = ASSETS[name]
    return FileResponse(
        path, media_type=media_type, headers={"Cache-Control": f"public, max-age={CACHE_SECONDS}"}
    )


@router.get("/favicon.ico")
async def favicon() -> FileResponse:
    """The icon browsers ask every page of the site for (the packaged documentation icon, a PNG)."""
    path, media_type = ASSETS["favicon.png"]
    return FileResponse(
        path, media_type=media_type, headers={"Cache-Control": f"public, max-age={CACHE_SECONDS}"}
    )
