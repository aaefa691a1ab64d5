"""What every built-in AI handler shares: the provider's key, its official SDK client, what its
errors mean for the queue, and the daily spend ledger.

- The key comes from the environment (``OPENAI_API_KEY``, ``GEMINI_API_KEY`` or the variable
  the config names) or from ``credentials/{provider}.key`` in the home, which others must not
  be able to read. It is cut out of anything the provider says before it reaches a log row.
- A refused key (401/403) or an unknown model (404) fails permanently, naming the setting; a
  content-policy refusal fails permanently with the provider's reason; 429 (and 5xx with
  ``Retry-After``) parks the item until then without spending a retry; other 5xx and network
  errors are transient. The SDKs' own retries are off: the queue retries.
- The spend ledger counts requests and their estimated cost per provider and UTC day, in the
  database (the same table as the YouTube quota, under ``ai:{provider}`` names). A request
  is counted before it is sent, so a crash never spends unseen; past ``daily_requests`` or
  ``daily_budget`` the item parks until midnight UTC.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import sys
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autoqueue.config import Config, ProviderConfig, VideoModelConfig
from autoqueue.errors import ParkStageError, PermanentStageError, TransientStageError
from autoqueue.i18n import _
from autoqueue.kinds import QueueType
from autoqueue.stages.base import StageContext
from autoqueue.timeutil import utcnow

if TYPE_CHECKING:
    from autoqueue.workspace import Workspace

# What the SDKs are given when a base_url of your own has no key (they refuse None); the
# request hook drop_keyless takes it out of every request before it is sent.
KEYLESS = "autoqueue-no-key"
DEFAULT_WAIT = 60.0  # seconds parked after a 429 that says nothing of when to come back
NAMES = {"openai": "OpenAI", "google": "Google"}
# Words in an error code or a finish reason that mean the provider refused the content.
POLICY_WORDS = ("policy", "safety", "content_filter", "moderation", "prohibited", "blocklist")


def drop_keyless(request: Any) -> None:
    """Take the placeholder key out of a request (an httpx request hook): a server of your own
    without a key gets no credential at all, not a made-up one it might log or refuse."""
    for header, value in (("authorization", f"Bearer {KEYLESS}"), ("x-goog-api-key", KEYLESS)):
        if request.headers.get(header) == value:
            del request.headers[header]


def key_file(home: Path, provider: str) -> Path:
    return home / "credentials" / f"{provider}.key"


def find_key(home: Path, provider: str, env_name: str) -> str | None:
    """The key: the environment variable ``env_name``, else ``credentials/{provider}.key``
    (refused when others can read it)."""
    value = os.environ.get(env_name, "").strip()
    if value:
        return value
    path = key_file(home, provider)
    if not path.is_file():
        return None
    if sys.platform != "win32" and path.stat().st_mode & 0o077:
        raise PermanentStageError(
            _("{path} is readable by other users: chmod 600 {path}").format(path=path)
        )
    return path.read_text(encoding="utf-8").strip() or None


@dataclass(frozen=True)
class Account:
    """One provider as a handler reaches it."""

    provider: str  # "openai" | "google"
    key: str | None
    key_env: str
    base_url: str | None
    timeout: float
    limits: ProviderConfig
    # Google's Vertex AI (the video models): (project, location) with Application Default
    # Credentials, or (None, location) with an express-mode API key.
    vertex: tuple[str | None, str] | None = None

    @property
    def where(self) -> str:
        return self.base_url or NAMES[self.provider]

    def redact(self, text: str) -> str:
        return text.replace(self.key, "***") if self.key else text

    def key_hint(self) -> str:
        if self.vertex is not None and self.vertex[0] is not None:
            return _(
                "give the account of the Application Default Credentials the Vertex AI User "
                "role in project {project}"
            ).format(project=self.vertex[0])
        return _("set ${env} or write the key to credentials/{provider}.key in the home").format(
            env=self.key_env, provider=self.provider
        )

    def openai(self) -> Any:
        """The ``openai`` client (one per account: it keeps its connections)."""
        return self._openai

    def google(self) -> Any:
        """The ``google-genai`` client (one per account: it keeps its connections and, on
        Vertex AI with a project, its access token)."""
        return self._google

    @functools.cached_property
    def _openai(self) -> Any:
        import openai

        keyless = None
        if self.key is None:  # the SDK wants a key: it gets a placeholder that is never sent
            keyless = openai.DefaultHttpxClient(event_hooks={"request": [drop_keyless]})
        return openai.OpenAI(
            api_key=self.key or KEYLESS,
            base_url=self.base_url,
            timeout=self.timeout,
            max_retries=0,  # the queue retries, and parks on 429: no hidden waits in here
            http_client=keyless,
        )

    @functools.cached_property
    def _google(self) -> Any:
        from google import genai
        from google.genai import types

        options = types.HttpOptions(timeout=round(self.timeout * 1000))  # milliseconds
        if self.base_url:
            options.base_url = self.base_url
        if self.key is None:  # as for openai: the placeholder key is never sent
            options.client_args = {"event_hooks": {"request": [drop_keyless]}}
        # retry_options unset: the SDK makes one request per call (the queue retries)
        if self.vertex is not None:
            project, location = self.vertex
            if project is not None:
                return genai.Client(
                    vertexai=True, project=project, location=location, http_options=options
                )
            return genai.Client(vertexai=True, api_key=self.key, http_options=options)
        return genai.Client(api_key=self.key or KEYLESS, http_options=options)


def account(
    workspace: Workspace,
    provider: str,
    setting: str,
    *,
    base_url: str | None = None,
    key_env: str | None = None,
    timeout: float | None = None,
    vertex: tuple[str | None, str] | None = None,
) -> Account:
    """The provider as ``setting`` (the config section that chose it) uses it; without a key
    and without a base_url of its own, fails permanently saying where the key goes."""
    limits = workspace.config.providers.get(provider)
    env_name = key_env or limits.key_env(provider)
    url = base_url or limits.base_url
    key = find_key(workspace.home, provider, env_name)
    found = Account(provider, key, env_name, url, timeout or limits.timeout, limits, vertex)
    if key is None and url is None and (vertex is None or vertex[0] is None):
        raise PermanentStageError(
            _("{setting} uses {name}, which needs a key: {hint}").format(
                setting=setting, name=NAMES[provider], hint=found.key_hint()
            )
        )
    return found


def for_use(workspace: Workspace, use: str) -> tuple[Account, str, str]:
    """The provider account, the model and the model's setting of one built-in AI handler:
    ``llm`` (the script writer), ``dalle3``, ``imagen3`` or ``sora2``."""
    config = workspace.config
    if use == "llm":
        llm = config.llm
        found = account(
            workspace,
            llm.provider,
            '[stages.script] handler = "llm"',
            base_url=llm.base_url,
            key_env=llm.api_key_env,
            timeout=llm.timeout,
        )
        return found, llm.model_name, "[llm] model"
    model = config.generator(use)
    assert model is not None, use
    if not model.model_name:
        raise PermanentStageError(no_video_model(use))
    vertex = None
    if isinstance(model, VideoModelConfig) and model.provider == "google":
        vertex = (model.project, model.location)  # Google's video models are on Vertex AI
    found = account(workspace, model.provider, f"[media.{use}]", vertex=vertex)
    return found, model.model_name, f"[media.{use}] model"


def probe(found: Account, model: str, model_setting: str) -> None:
    """Ask the provider about ``model`` (a free request): raises what ``stage_error`` makes of
    a refused key, an unknown model or an unreachable server."""
    try:
        if found.provider == "google":
            found.google().models.get(model=model)
        else:
            found.openai().models.retrieve(model)
    except sdk_errors() as exc:
        raise stage_error(exc, found, model, model_setting) from None


def configured(home: Path, limits: ProviderConfig, provider: str) -> bool:
    """Whether a handler could reach the provider: a key is there, or a base_url of its own."""
    return bool(limits.base_url) or has_key(home, provider, limits.key_env(provider))


def has_key(home: Path, provider: str, env_name: str) -> bool:
    """Whether ``find_key`` finds a key (a key file too open counts: the stage then says what
    to fix)."""
    try:
        return find_key(home, provider, env_name) is not None
    except PermanentStageError:
        return True  # a key file that is too open: the stage says so, naming the fix


# -- errors ----------------------------------------------------------------------------------


def _body_field(body: Any, name: str) -> str:
    """A field of a provider's error body (``{"error": {...}}`` or the same fields at the top)."""
    inner = body.get("error", body) if isinstance(body, dict) else None
    return str(inner.get(name) or "") if isinstance(inner, dict) else ""


def retry_after(response: Any) -> float | None:
    """The seconds a response's ``Retry-After`` header asks for, if it gives a number."""
    headers = getattr(response, "headers", None)
    value = headers.get("retry-after") if headers is not None else None
    try:
        return max(float(value), 0.0) if value is not None else None
    except (TypeError, ValueError):
        return None


def sdk_errors() -> tuple[type[Exception], ...]:
    """What the SDKs raise for a provider's answer or a failed connection."""
    import openai
    from google.auth import exceptions as auth_errors
    from google.genai import errors as google_errors

    found: list[type[Exception]] = [
        openai.APIError,
        google_errors.APIError,
        auth_errors.GoogleAuthError,  # Vertex AI's Application Default Credentials
    ]
    for module in ("httpx2", "httpx"):  # google-genai's transport, whichever is installed
        with contextlib.suppress(ImportError):
            found.append(importlib.import_module(module).HTTPError)
    return tuple(found)


def status_of(exc: Exception) -> tuple[int | None, str, str, Any]:
    """(HTTP status, message, error code, response) of an SDK error; status None for a network
    error or anything else that never got an answer."""
    import openai
    from google.genai import errors as google_errors

    if isinstance(exc, openai.APIStatusError):
        body = exc.body
        message = _body_field(body, "message") or str(exc)
        return exc.status_code, message, _body_field(body, "code"), exc.response
    if isinstance(exc, google_errors.APIError):
        return exc.code, exc.message or str(exc), exc.status or "", exc.response
    return None, str(exc), "", None


def refused(account: Account, said: str) -> PermanentStageError:
    return PermanentStageError(
        _("{where} refused the request on content policy: {said}").format(
            where=account.where, said=account.redact(said)[:500]
        )
    )


def stage_error(exc: Exception, account: Account, model: str, model_setting: str) -> Exception:
    """The stage error for what an SDK raised (see the module's docstring)."""
    from google.auth import exceptions as auth_errors

    status, message, code, response = status_of(exc)
    said = account.redact(message)[:500]
    where = account.where
    if isinstance(exc, auth_errors.DefaultCredentialsError | auth_errors.RefreshError):
        return PermanentStageError(
            _(
                "Vertex AI has no usable credentials ({said}): run `gcloud auth "
                "application-default login`, or set $GOOGLE_APPLICATION_CREDENTIALS to a service "
                "account's key file (or remove project to use an express-mode API key)"
            ).format(said=said)
        )
    if status in (401, 403) or (status == 400 and "API_KEY" in message.upper()):
        return PermanentStageError(
            _("{where} refused the key ({said}): {hint}").format(
                where=where, said=said, hint=account.key_hint()
            )
        )
    if status == 404:
        return PermanentStageError(
            _("{where} has no model {model!r} ({said}): set {setting}").format(
                where=where, model=model, said=said, setting=model_setting
            )
        )
    wait = retry_after(response)
    if status == 429 or (status is not None and status >= 500 and wait is not None):
        seconds = DEFAULT_WAIT if wait is None else wait
        return ParkStageError(
            _("{where} asks to wait {seconds:.0f} s: {said}").format(
                where=where, seconds=seconds, said=said
            ),
            utcnow() + timedelta(seconds=seconds),
        )
    if status is not None and 400 <= status < 500 and status not in (408, 409):
        if any(word in f"{code} {message}".lower() for word in POLICY_WORDS):
            return refused(account, message)
        return PermanentStageError(
            _("{where} refused the request: {said}").format(where=where, said=said)
        )
    return TransientStageError(_("{where}: {said}").format(where=where, said=said))


# -- the spend ledger ------------------------------------------------------------------------

MICRO = 1_000_000  # the ledger keeps dollars as whole millionths


def ledger_names(provider: str) -> tuple[str, str]:
    """The ledger rows of a provider: requests, and dollars in millionths."""
    return f"ai:{provider}", f"ai:{provider}:usd-micro"


def spent(ctx: StageContext, provider: str, now: datetime) -> tuple[int, float]:
    """Requests and estimated dollars spent on ``provider`` on ``now``'s UTC day."""
    day = now.date().isoformat()
    requests, dollars = ledger_names(provider)
    return ctx.store.quota_used(requests, day), ctx.store.quota_used(dollars, day) / MICRO


class CapReached(ParkStageError):
    """A request would pass a provider's daily cap: the item waits for midnight UTC (a voice
    engine lets the next voice speak instead). ``over`` says which cap, in a few words."""

    def __init__(self, message: str, until: datetime, over: str) -> None:
        super().__init__(message, until, budget=True)
        self.over = over


def charge(ctx: StageContext, account: Account, price: float, now: datetime) -> None:
    """Count one request of ``price`` dollars before it is sent, or park the item until the
    next UTC day when it would pass the provider's daily caps (``CapReached``)."""
    limits = account.limits
    requests, dollars = spent(ctx, account.provider, now)
    over = None
    if limits.daily_requests and requests + 1 > limits.daily_requests:
        over = _("{used} of {cap} requests").format(used=requests, cap=limits.daily_requests)
    elif limits.daily_budget and dollars + price > limits.daily_budget + 1e-9:
        over = _("${used:.2f} of ${cap:.2f}, and this request costs about ${price:.2f}").format(
            used=dollars, cap=limits.daily_budget, price=price
        )
    if over is not None:
        tomorrow = datetime.combine(now.date() + timedelta(days=1), time(), tzinfo=now.tzinfo)
        raise CapReached(
            _(
                "the daily {name} cap is reached ({over}): waiting for midnight UTC "
                "([providers.{provider}] daily_requests / daily_budget)"
            ).format(name=NAMES[account.provider], over=over, provider=account.provider),
            tomorrow,
            over,
        )
    day = now.date().isoformat()
    request_name, dollar_name = ledger_names(account.provider)
    channel = ctx.channel  # each channel's part too, for `autoqueue usage`
    ctx.store.quota_spend(request_name, day, 1, channel)
    ctx.store.quota_spend(dollar_name, day, round(price * MICRO), channel)


def no_video_model(mode: str) -> str:
    return _(
        '[media.{mode}] provider = "openai" needs the model that your OpenAI-compatible '
        "endpoint serves: set [media.{mode}] model (OpenAI's own Sora API was retired in 2026)"
    ).format(mode=mode)


def open_key_problem(home: Path, config: Config, media_mode: str) -> str | None:
    """The stage's own refusal of a key file that others can read (``find_key``), for the
    first such key a task of ``media_mode`` would read, or None: ``add`` refuses it then
    rather than let the stage fail after the work before it was done."""
    for provider, env_name in keys_read(home, config, media_mode):
        try:
            find_key(home, provider, env_name)
        except PermanentStageError as exc:
            return str(exc)
    return None


def keys_read(home: Path, config: Config, media_mode: str) -> list[tuple[str, str]]:
    """(key file's provider, variable) of every key the stages of a ``media_mode`` task read:
    the script writer's, crawl's stock sources', a generated mode's model's."""
    keys: list[tuple[str, str]] = []
    if config.handler(QueueType.SCRIPT) == "llm":
        llm = config.llm
        limits = config.providers.get(llm.provider)
        keys.append((llm.provider, llm.api_key_env or limits.key_env(llm.provider)))
    if media_mode == "crawl":
        from autoqueue.stages import stock

        if stock.in_use(home, config):
            keys += [(source, stock.KEY_ENV[source]) for source in config.stock.sources]
    model = config.generator(media_mode)
    built_in = config.handler(QueueType.VIDEO) == "ffmpeg"
    if model is not None and built_in and not config.stage(QueueType.VIDEO).generator:
        keys.append((model.provider, config.providers.get(model.provider).key_env(model.provider)))
    return keys


def generator_problem(home: Path, config: Config, media_mode: str) -> str | None:
    """Why a task of ``media_mode`` would fail at the video stage for want of a generator
    (``add`` refuses it then, before the script and pictures are made), or None."""
    if media_mode == "crawl" and config.handler(QueueType.IMAGE) == "stock":
        from autoqueue.stages import stock

        if stock.configured(home, config.stock):
            return None
        wanted, files = stock.key_places(config.stock)
        return _(
            'mediaMode crawl searches stock photos ([stages.image] handler = "stock"), which '
            "needs a key: set {wanted} or write one to {files} in the home"
        ).format(wanted=wanted, files=files)
    model = config.generator(media_mode)
    if model is None:
        return None
    video = config.stage(QueueType.VIDEO)
    if config.handler(QueueType.VIDEO) != "ffmpeg" or video.generator:
        return None  # the user's own video stage or generator program makes them
    if not model.model_name:
        return no_video_model(media_mode)
    if getattr(model, "project", None):
        return None  # Vertex AI with the machine's Application Default Credentials
    limits = config.providers.get(model.provider)
    if configured(home, limits, model.provider):
        return None
    return _(
        "mediaMode {mode} is made by {name} ({model}), which needs a key: set "
        "${env} or write the key to credentials/{provider}.key in the home (or choose another "
        "provider in [media.{mode}], or set [stages.video] generator)"
    ).format(
        mode=media_mode,
        name=NAMES[model.provider],
        model=model.model_name,
        env=limits.key_env(model.provider),
        provider=model.provider,
    )
