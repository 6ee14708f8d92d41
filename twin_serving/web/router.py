"""The twin's web page: profiles, collection, asking, status, behind one login.

Routes (all under ``/web``): the page and its login; a small JSON API the page's script calls.
Every ``/web/api`` call needs the session when ``TWIN_API_KEY`` is set, and every state-changing
call needs the CSRF token. Blocking work (Dagster's client, files, the registry) runs in a worker
thread, never on the event loop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from twin_core.profiles import PLATFORM_KEYS, ProfileError, load_profiles
from twin_serving.deps import Service
from twin_serving.routers import generate
from twin_serving.schemas import GenerateRequest
from twin_serving.web import security
from twin_serving.web.dagster_launcher import CollectionLauncher, DagsterUnavailable
from twin_serving.web.profile_form import (
    FORM_FIELDS,
    FieldErrors,
    profiles_to_form,
    save_form,
    store_export,
)
from twin_serving.web.settings import WebSettings, get_web_settings
from twin_serving.web.status import collect_status

HERE = Path(__file__).parent
STATIC_FILES = {"app.js": "text/javascript", "style.css": "text/css"}
templates = Jinja2Templates(directory=HERE / "templates")

# The page renders corpus text, which is untrusted HTML from the web: no inline script, no
# third-party origin, no framing.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}

Settings = Annotated[WebSettings, Depends(get_web_settings)]

router = APIRouter(prefix="/web", tags=["web page"], include_in_schema=False)


def api_key(request: Request) -> str | None:
    """The API's own key (``TWIN_API_KEY`` in the app's settings): one key for API and page."""
    secret = getattr(request.app.state.settings, "api_key", None)
    return secret.get_secret_value() or None if secret is not None else None


def _logged_in(request: Request) -> bool:
    key = api_key(request)
    return key is None or security.session_is_valid(
        request.cookies.get(security.SESSION_COOKIE), key
    )


def require_login(request: Request) -> None:
    if not _logged_in(request):
        raise HTTPException(401, "Log in with the API key first (the page at /web).")


def require_csrf(request: Request) -> None:
    security.check_csrf(request, request.headers.get(security.CSRF_HEADER))


Api = APIRouter(prefix="/api", dependencies=[Depends(require_login)])
Changes = [Depends(require_csrf)]


def _page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    token = security.csrf_token_for(request)
    response = templates.TemplateResponse(
        request, name, {"csrf_token": token, **context}, status_code=status_code
    )
    response.headers.update(SECURITY_HEADERS)
    response.headers["Cache-Control"] = "no-store"
    security.set_csrf_cookie(request, response, token)
    return response


@router.get("", response_class=HTMLResponse)
def page(request: Request) -> Response:
    if not _logged_in(request):
        return RedirectResponse(request.url_for("web_login"), status_code=303)
    return _page(
        request,
        "index.html",
        {
            "platforms": [
                ("linkedin", "LinkedIn post"),
                ("medium", "Medium article"),
                ("substack", "Substack post"),
                ("github", "GitHub README"),
            ],
            "login_required": api_key(request) is not None,
            "form_fields": FORM_FIELDS,
        },
    )


@router.get("/login", response_class=HTMLResponse, name="web_login")
def login_page(request: Request) -> Response:
    if api_key(request) is None or _logged_in(request):
        return RedirectResponse(request.url_for("page"), status_code=303)
    return _page(request, "login.html", {"error": None})


@router.post("/login", name="web_login_submit")
async def login(request: Request, settings: Settings) -> Response:
    # Parsed by hand: a two-field form does not justify a multipart dependency.
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    security.check_csrf(request, (form.get(security.CSRF_FIELD) or [None])[0])
    key = api_key(request)
    if key is None:
        return RedirectResponse(request.url_for("page"), status_code=303)
    given = (form.get("api_key") or [""])[0]
    if not given or not security.key_matches(given, key):
        return _page(request, "login.html", {"error": "That key is not the API key."}, 401)
    response = RedirectResponse(request.url_for("page"), status_code=303)
    lifetime = settings.session_hours * 3600
    security.set_session_cookie(request, response, security.make_session(key, lifetime), lifetime)
    return response


@router.post("/logout", dependencies=Changes)
def logout(request: Request) -> Response:
    response = JSONResponse({"ok": True})
    security.clear_session_cookie(request, response)
    return response


@router.get("/static/{name}")
def static(name: str) -> Response:
    if name not in STATIC_FILES:
        raise HTTPException(404, "No such file.")
    return FileResponse(
        HERE / "static" / name, media_type=STATIC_FILES[name], headers={"X-Content-Type-Options": "nosniff"}
    )


# -- profiles ------------------------------------------------------------------------------------
def _field_errors(error: FieldErrors) -> JSONResponse:
    return JSONResponse({"error": "Some fields need fixing.", "errors": error.errors}, 422)


@Api.get("/profiles")
async def get_profiles(settings: Settings) -> dict[str, Any]:
    path = settings.profiles
    if not path.exists():
        return {"path": str(path), "authors": [], "platforms": list(PLATFORM_KEYS)}
    try:
        profiles = await run_in_threadpool(load_profiles, path)
    except ProfileError as error:
        # The file on disk is broken (edited by hand): say so, let the page start over.
        raise HTTPException(422, f"{error}. Fix the file, or save a new profile here.") from None
    return {"path": str(path), **profiles_to_form(profiles), "platforms": list(PLATFORM_KEYS)}


@Api.put("/profiles", dependencies=Changes)
async def put_profiles(request: Request, settings: Settings) -> Response:
    try:
        data = await request.json()
    except ValueError:
        raise HTTPException(422, "Expected a JSON body.") from None
    try:
        profiles = await run_in_threadpool(save_form, data, settings.profiles)
    except FieldErrors as error:
        return _field_errors(error)
    return JSONResponse({"saved": True, **profiles_to_form(profiles)})


@Api.post("/profiles/exports", dependencies=Changes)
async def upload_export(
    request: Request,
    settings: Settings,
    author: Annotated[str, Query(min_length=1, max_length=200)],
    platform: Annotated[str, Query(pattern="^(linkedin|medium|substack)$")] = "linkedin",
) -> Response:
    # The page sends the file itself as the body: no multipart parser needed.
    data = await request.body()
    try:
        path = await run_in_threadpool(store_export, data, settings.profiles, author, platform)
    except FieldErrors as error:
        return _field_errors(error)
    return JSONResponse({"path": path})


# -- collection ------------------------------------------------------------------------------------
def _launcher(settings: Settings) -> CollectionLauncher:
    return CollectionLauncher.from_settings(settings)


Launcher = Annotated[CollectionLauncher, Depends(_launcher)]


def _unavailable(error: DagsterUnavailable) -> JSONResponse:
    return JSONResponse({"error": str(error), "dependency": "dagster"}, 503)


@Api.post("/collection", dependencies=Changes)
async def launch_collection(launcher: Launcher) -> Response:
    try:
        run_id = await run_in_threadpool(launcher.launch, {"twin/launched_by": "web"})
        progress = await run_in_threadpool(launcher.progress, run_id)
    except DagsterUnavailable as error:
        return _unavailable(error)
    return JSONResponse(_progress_json(progress), 202)


@Api.get("/collection/{run_id}")
async def collection_progress(
    run_id: Annotated[str, PathParam(pattern=r"^[0-9a-f-]{8,64}$")], launcher: Launcher
) -> Response:
    try:
        progress = await run_in_threadpool(launcher.progress, run_id)
    except DagsterUnavailable as error:
        return _unavailable(error)
    except LookupError as error:
        raise HTTPException(404, str(error)) from None
    return JSONResponse(_progress_json(progress))


def _progress_json(progress) -> dict[str, Any]:
    return {
        "run_id": progress.run_id,
        "status": progress.status,
        "finished": progress.finished,
        "url": progress.url,
        "counts": progress.counts,
        "steps_done": progress.steps_done,
        "started_at": progress.started_at,
        "ended_at": progress.ended_at,
    }


# -- asking ----------------------------------------------------------------------------------------
@Api.post("/ask", dependencies=Changes)
async def ask(body: GenerateRequest, service: Service) -> Response:
    """The API's own ``/v1/generate`` handler, streaming: same validation, RAG, tracing and
    errors; only the credential differs (the session instead of the key)."""
    return await generate.generate(body.model_copy(update={"stream": True}), service)


# -- status ----------------------------------------------------------------------------------------
@Api.get("/status")
async def status(request: Request, launcher: Launcher) -> dict[str, Any]:
    return await run_in_threadpool(collect_status, request.app.state, launcher)


router.include_router(Api)
