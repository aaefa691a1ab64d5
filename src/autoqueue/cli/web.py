"""``autoqueue ui --web``: the terminal app served to a browser by textual-serve, whose ``Server``
is wrapped so that no session outlives its browser or the server.

textual-serve starts one ``autoqueue ui`` per websocket and, when the websocket closes, asks it
to quit and waits. An app told to quit while it is still starting (a headless browser that takes
a screenshot and leaves) may never end: Textual closes the app but not its screen, which repaints
forever, and SIGTERM only repeats the request to quit. So the server gives each session a moment
to quit, then terminates and kills its process tree; stopping the server does the same to every
session left. The app also ends when its input closes (``cli/terminal_driver.py``'s ``PipeDriver``):
a server that was killed leaves nobody to see it.

Off a loopback address (``--host 0.0.0.0``), whoever reaches the port could stop, delete, retry
and add: every page, asset and websocket there asks for a random token, given in the query
(``?token=``, printed once at start as Jupyter does) and then carried by a cookie.

The page's websocket and asset addresses are on the host the browser asked for, not on the one
served on (textual-serve writes ``http://0.0.0.0:8000`` into the page of a server on 0.0.0.0).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import re
import secrets
import shlex
import subprocess
import sys
from asyncio.subprocess import Process
from contextlib import suppress
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import WSCloseCode, web
from aiohttp.typedefs import Handler, Middleware
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from autoqueue.attempt import processes
from autoqueue.attempt.processes import ProcessInfo
from autoqueue.i18n import _

log = logging.getLogger("textual-serve")

HOST_HEADER = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]+)?|\[[0-9A-Fa-f:.]+\](:[0-9]+)?")
"""A Host header the page may repeat: a name or address, and a port."""
QUIT_SECONDS = 2.0
"""How long a session whose browser has gone has to quit by itself before it is terminated."""
KILL_SECONDS = 1.0
"""How long a terminated session has before it is killed (an app that cannot quit ignores
SIGTERM)."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reached from this machine only: ``localhost`` or a loopback address.
    Any other name may resolve to an outside address, so it counts as off loopback."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def new_token(host: str) -> str | None:
    """The token a server on ``host`` asks for: none on loopback, a random one off it."""
    return None if is_loopback(host) else secrets.token_urlsafe(24)


def address(host: str, port: int, token: str | None = None) -> str:
    """The address to open, with its token when there is one."""
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}/" + ("" if token is None else f"?token={token}")


def same_origin(origin: str | None, host: str) -> bool:
    """Whether a websocket's Origin (a browser always sends one; other clients need not) is the
    host and port the request was made to."""
    if origin is None:
        return True
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()


def host_name(host: str) -> str:
    """The name in a Host header, without its port: ``[::1]:8000`` is ``::1``; "" for one that
    does not parse."""
    try:
        return urlsplit(f"//{host}").hostname or ""
    except ValueError:
        return ""


def loopback_guard() -> Middleware:
    """A middleware refusing (403) a request whose Host is not a loopback name: a server on
    127.0.0.1 asks for no token, and a site whose name an attacker points at 127.0.0.1 (DNS
    rebinding) would otherwise be its own page's origin, its requests all same-origin."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not is_loopback(host_name(request.host)):
            raise web.HTTPForbidden(text=_("autoqueue ui: open it as localhost or 127.0.0.1"))
        return await handler(request)

    return guard


def token_guard(token: str, cookie: str) -> Middleware:
    """A middleware refusing (403) a request that carries neither ``token`` in its query nor the
    cookie set on the first request that did, so that the page's assets and websocket follow."""

    def matches(given: str | None) -> bool:
        # Bytes, since compare_digest refuses a str that is not ASCII; a character that cannot be
        # encoded (a lone surrogate) is replaced, and no token has the replacement.
        return given is not None and secrets.compare_digest(
            given.encode(errors="replace"), token.encode()
        )

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if matches(request.query.get("token")):
            response = await handler(request)
            if not response.prepared:  # a websocket has sent its headers already
                response.set_cookie(cookie, token, httponly=True, samesite="Strict")
            return response
        if matches(request.cookies.get(cookie)):
            return await handler(request)
        raise web.HTTPForbidden(
            text=_("autoqueue ui: open the address with the token printed when it started")
        )

    return guard


class Session(AppService):
    """One browser's ``autoqueue ui``: textual-serve's app process, known by pid and start time
    so that it can be ended whatever state it is in."""

    process: ProcessInfo | None = None

    async def _open_app_process(self, width: int = 80, height: int = 24) -> Process:
        started = await super()._open_app_process(width, height)
        self.process = processes.identity(started.pid, "autoqueue ui")
        return started


class WebServer(Server):
    """textual-serve's server, ending each session when its websocket closes or the server
    stops, and asking for ``token`` when there is one."""

    def __init__(self, command: str, host: str, port: int, token: str | None) -> None:
        super().__init__(command, host=host, port=port, title="autoqueue")
        self.token = token
        self.sessions: set[Session] = set()
        self.websockets: set[web.WebSocketResponse] = set()

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        if self.token is not None:
            # A cookie per port: cookies ignore ports, and two servers have two tokens.
            app.middlewares.append(token_guard(self.token, f"autoqueue_token_{self.port}"))
        else:
            app.middlewares.append(loopback_guard())
        return app

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        """textual-serve's page, its asset and websocket addresses on the host and port the
        browser asked for rather than those served on: a server on 0.0.0.0 is reached by the
        machine's name, and an SSH tunnel may use another port."""
        if not HOST_HEADER.fullmatch(request.host):  # it is written into the page unescaped
            raise web.HTTPBadRequest()
        router = request.app.router
        websocket = router["websocket"].url_for()
        static = str(router["static"].url_for(filename="/")).rstrip("/") + "/"
        socket_scheme = "wss" if request.scheme == "https" else "ws"
        context = {
            "font_size": to_int(request.query.get("fontsize", "16"), 16),
            "app_websocket_url": f"{socket_scheme}://{request.host}{websocket}",
            "config": {"static": {"url": f"{request.scheme}://{request.host}{static}"}},
            "application": {"name": self.title},
        }
        return aiohttp_jinja2.render_template("app_index.html", request, context)

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """textual-serve's websocket handler, whose session is ended however the socket ends.
        A browser says which page opened the socket (Origin): one that is not this server's
        is refused, or any web page open in the browser could drive the queue through a
        server on 127.0.0.1, which needs no token."""
        if not same_origin(request.headers.get("Origin"), request.host):
            raise web.HTTPForbidden(text=_("autoqueue ui: a page of another site cannot connect"))
        websocket = web.WebSocketResponse(heartbeat=15)
        width = to_int(request.query.get("width", "80"), 80)
        height = to_int(request.query.get("height", "24"), 24)
        await websocket.prepare(request)

        async def close() -> None:  # the app has exited
            await websocket.close()

        session = Session(
            self.command,
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            close=close,
            download_manager=self.download_manager,
            debug=self.debug,
        )
        self.sessions.add(session)
        self.websockets.add(websocket)
        try:
            await session.start(width, height)
            await self._process_messages(websocket, session)
        except Exception as error:  # a broken session is logged; the server serves on
            log.exception(error)
        finally:
            self.websockets.discard(websocket)
            await self._end(session)
            await websocket.close()
        return websocket

    async def _end(self, session: Session) -> None:
        """Ask the session to quit; whatever is left of it a moment later is ended."""
        with suppress(Exception):
            await asyncio.wait_for(session.stop(), QUIT_SECONDS)
        if session.process is not None:
            await asyncio.to_thread(processes.end_trees, [session.process], KILL_SECONDS)
        self.sessions.discard(session)

    async def on_shutdown(self, app: web.Application) -> None:
        """The server stops: every websocket closes, so every session ends as above."""
        closing = [ws.close(code=WSCloseCode.GOING_AWAY) for ws in self.websockets]
        await asyncio.gather(*closing, return_exceptions=True)

    def end_sessions(self) -> None:
        """End at once every session still known (the server has stopped: none can be seen)."""
        started = [session.process for session in self.sessions if session.process is not None]
        processes.end_trees(started, KILL_SECONDS)
        self.sessions.clear()


def serve(host: str, port: int, environ: dict[str, str], token: str | None) -> None:
    """``ui --web``: textual-serve runs ``autoqueue ui`` for each browser that connects. It takes
    a shell command line, so the line is only the quoted interpreter and module; the home and
    database reach it through the environment (``AUTOQUEUE_HOME``, ``AUTOQUEUE_DB``). No session
    outlives the server, however its loop ends; with a ``token``, no request without it is
    served."""
    argv = [sys.executable, "-m", "autoqueue", "ui"]
    command = subprocess.list2cmdline(argv) if os.name == "nt" else shlex.join(argv)
    os.environ.update(environ)
    server = WebServer(command, host, port, token)
    try:
        server.serve()
    finally:
        server.end_sessions()
