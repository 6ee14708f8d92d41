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
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.staticfiles import StaticFiles

from twin_core.profiles import PLATFORM_KEYS, ProfileError, load_profiles
from twin_core.settings import Settings as TwinSettings
from twin_serving.deps import Service
from twin_serving.request_guard import client_address
from twin_serving.routers import generate
from twin_serving.schemas import MAX_LINKS, GenerateRequest
from twin_serving.web import security
from twin_serving.web.dagster_launcher import (
    CollectionLauncher,
    CollectionRunning,
    DagsterUnavailable,
)
from twin_serving.web.plain_errors import plain_error, plain_stream
from twin_serving.web.profile_form import (
    FORM_FIELDS,
    FieldErrors,
    profiles_to_form,
    save_form,
    store_export,
)
from twin_serving.web.prompt_length import PromptLengthRequest, prompt_length
from twin_serving.web.status import collect_status, served_model

HERE = Path(__file__).parent
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

def app_settings(request: Request) -> TwinSettings:
    """The app's one settings object (``create_app(settings)``): the page edits the profiles
    file the pipeline reads and talks to the Dagster the pipeline runs in."""
    return request.app.state.settings


Settings = Annotated[TwinSettings, Depends(app_settings)]

router = APIRouter(prefix="/web", tags=["web page"], include_in_schema=False)
STATIC_PATH = "/web/static"


class StaticAssets(StaticFiles):
    """The page's script and style sheet (Starlette confines paths to the folder)."""

    async def get_response(self, path: str, scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def static_files() -> StaticAssets:
    return StaticAssets(directory=HERE / "static")


def api_key(request: Request) -> str | None:
    """The API's own key (``TWIN_API_KEY`` in the app's settings): one key for API and page."""
    secret = request.app.state.settings.serving.api_key
    return secret.get_secret_value() or None if secret is not None else None


def _logged_in(request: Request) -> bool:
    return security.logged_in(request, api_key(request))


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
            "max_links": MAX_LINKS,
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
    # Too many wrong keys from this client were refused before the body was read (429).
    throttle, client = request.app.state.key_throttle, client_address(request.scope)
    if not given or not security.key_matches(given, key):
        throttle.failed(client)
        return _page(request, "login.html", {"error": "That key is not the API key."}, 401)
    throttle.succeeded(client)
    response = RedirectResponse(request.url_for("page"), status_code=303)
    lifetime = settings.web.session_hours * 3600
    security.set_session_cookie(request, response, security.make_session(key, lifetime), lifetime)
    return response


@router.post("/logout", dependencies=Changes)
def logout(request: Request) -> Response:
    response = JSONResponse({"ok": True})
    security.clear_session_cookie(request, response)
    return response


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
    return CollectionLauncher.from_settings(settings.web)


Launcher = Annotated[CollectionLauncher, Depends(_launcher)]


def _author_slugs(request: Request) -> list[str]:
    """Every author in the profiles, as the partition keys their collection runs under."""
    from twin_core.authors import profile_slugs

    try:
        profiles = load_profiles(app_settings(request).profiles)
    except ProfileError as error:
        raise DagsterUnavailable(f"The profiles cannot be read ({error}): fix them on this page first.") from None
    return profile_slugs(profiles)


def _unavailable(error: DagsterUnavailable) -> JSONResponse:
    return JSONResponse({"error": str(error), "dependency": "dagster"}, 503)


@Api.post("/collection", dependencies=Changes)
async def launch_collection(request: Request, launcher: Launcher) -> Response:
    """Starts a collection run per author, or answers 409 with the run Dagster already has going
    (the page then follows that one): Dagster's runs are the truth, not what this page remembers."""
    try:
        authors = _author_slugs(request)
        run_id = await run_in_threadpool(launcher.launch, authors, {"twin/launched_by": "web"})
        progress = await run_in_threadpool(launcher.progress, run_id)
    except CollectionRunning as running:
        try:
            progress = await run_in_threadpool(launcher.progress, running.run_id)
        except DagsterUnavailable as error:
            return _unavailable(error)
        body = _progress_json(progress)
        body["error"] = (
            f"{running} Only one collection runs at a time: this page follows that run instead."
        )
        return JSONResponse(body, 409)
    except DagsterUnavailable as error:
        return _unavailable(error)
    return JSONResponse(_progress_json(progress), 202)


@Api.get("/collection/current")
async def current_collection(launcher: Launcher) -> Response:
    """The run to show after a reload: the one queued or running, else the last one."""
    try:
        run_id = await run_in_threadpool(launcher.current_run)
        if run_id is None:
            return JSONResponse({"run": None})
        progress = await run_in_threadpool(launcher.progress, run_id)
    except DagsterUnavailable as error:
        return _unavailable(error)
    return JSONResponse({"run": _progress_json(progress)})


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
        "outcome": progress.outcome,
        "failures": progress.failures,
        "follow_on": [vars(run) for run in progress.follow_on],
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
    limits; only the credential differs (the session instead of the key), and failures are put
    in plain words on the field they concern. When the page stops reading (Stop), the response
    is cancelled and with it the request to the model server, which then stops generating."""
    try:
        response = await generate.generate(body.model_copy(update={"stream": True}), service)
    except Exception as error:
        plain = plain_error(error)
        if plain is None:
            raise
        return JSONResponse(plain.body(), plain.status)
    response.body_iterator = plain_stream(response.body_iterator)
    return response


@Api.post("/prompt-length")
async def measure_prompt(body: PromptLengthRequest, service: Service) -> dict[str, Any]:
    """Tokens the prompt takes with the served model's tokenizer and chat template, against the
    model's real budget, for the counter under the prompt box."""
    return await prompt_length(service, body)


# -- status ----------------------------------------------------------------------------------------
@Api.get("/status")
async def status(request: Request, launcher: Launcher) -> dict[str, Any]:
    parts = await run_in_threadpool(collect_status, request.app.state, launcher)
    parts["served"] = await served_model(request.app.state)
    return parts


@Api.get("/dagster")
async def dagster_reachable(launcher: Launcher) -> dict[str, Any]:
    """Dagster's part of the page's live status line (the model server's and Milvus' come from
    the API's own ``/ready``)."""
    try:
        version = await run_in_threadpool(launcher.ping)
    except DagsterUnavailable as error:
        return {"ok": False, "detail": str(error)}
    return {"ok": True, "detail": f"Dagster {version} at {launcher.ui_url}"}


router.include_router(Api)
