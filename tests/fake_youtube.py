"""A fake YouTube Data API and OAuth token endpoint on 127.0.0.1, for the real client library.

It speaks the resumable upload protocol (initiating POST answered with ``Location``; PUT chunks
answered 308 with ``Range``; the status query ``Content-Range: bytes */N``; a final 200 with the
video resource; 404 for a session it has forgotten), ``thumbnails.set``, the channel's uploads
(``channels.list mine=true``, ``playlistItems.list``, ``videos.list part=fileDetails``), and the
token endpoint (refresh and authorization-code grants). Faults are injected by setting
attributes between requests.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Session:
    size: int
    metadata: dict[str, Any]
    data: bytearray = field(default_factory=bytearray)
    video_id: str | None = None


@dataclass
class Video:
    id: str
    metadata: dict[str, Any]
    data: bytes
    thumbnail: bytes | None = None
    captions: list[bytes] = field(default_factory=list)  # each captions.insert request body
    published_at: str = field(
        default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    )


class FakeYouTube:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.access_tokens = {"access-0"}
        self.refresh_tokens = {"refresh-1": "valid"}
        self.sessions: dict[str, Session] = {}
        self.videos: dict[str, Video] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.issued = 0
        # Faults.
        self.chunk_statuses: list[int] = []  # answer the next chunk PUTs with these statuses
        self.drop_next_chunk = False  # read the next chunk, then close without answering
        self.insert_error: tuple[int, str] | None = None
        self.thumbnail_error: tuple[int, str] | None = None
        self.chunk_delay = 0.0
        self.reject_all_tokens = False
        self.forgotten: set[str] = set()  # sessions that answer 404 (expired)
        self.forget_after_bytes: int | None = None  # a session expires once it holds this much
        self.final_delay = 0.0  # the last chunk is stored, then its answer waits this long
        self.gate: threading.Event | None = None  # while set here and not yet set, chunks wait
        self.deny_reads = False  # a token without the youtube.readonly scope
        self.refused_insert_connections = 0  # close the next N upload openings unanswered
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def __enter__(self) -> FakeYouTube:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def forget_sessions(self) -> None:
        """Expire every upload session (YouTube forgets them after about a week)."""
        with self.lock:
            self.forgotten.update(self.sessions)

    def token_json(self, *, token: str = "access-0", expiry: str = "2099-01-01T00:00:00Z") -> str:
        """An authorized-user token file as google-auth writes it, pointing at this server."""
        return json.dumps(
            {
                "token": token,
                "refresh_token": "refresh-1",
                "token_uri": self.url + "token",
                "client_id": "client-id-123",
                "client_secret": "client-secret-456",
                "scopes": ["https://www.googleapis.com/auth/youtube.upload"],
                "expiry": expiry,
            }
        )

    def client_secrets_json(self) -> str:
        return json.dumps(
            {
                "installed": {
                    "client_id": "client-id-123",
                    "client_secret": "client-secret-456",
                    "auth_uri": self.url + "auth",
                    "token_uri": self.url + "token",
                    "redirect_uris": ["http://localhost"],
                }
            }
        )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                return None

            def _send(
                self, status: int, body: Any = None, headers: dict[str, str] | None = None
            ) -> None:
                payload = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                if payload:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _error(self, status: int, reason: str, message: str = "") -> None:
                self._send(
                    status,
                    {
                        "error": {
                            "code": status,
                            "message": message or reason,
                            "errors": [{"reason": reason}],
                        }
                    },
                )

            def _body(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _authorised(self) -> bool:
                header = self.headers.get("Authorization", "")
                token = header.removeprefix("Bearer ").strip()
                if fake.reject_all_tokens or token not in fake.access_tokens:
                    self._error(401, "authError", "Invalid Credentials")
                    return False
                return True

            def _record(self) -> None:
                with fake.lock:
                    fake.requests.append(
                        (self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
                    )

            def do_GET(self) -> None:
                self._record()
                path = urllib.parse.urlparse(self.path)
                query = urllib.parse.parse_qs(path.query)
                if not self._authorised():
                    return None
                if fake.deny_reads:
                    return self._error(403, "insufficientPermissions", "Insufficient Permission")
                if path.path == "/youtube/v3/channels":
                    assert query.get("mine") == ["true"], query
                    uploads = {"uploads": "UUfake"}
                    item = {"id": "UCfake", "contentDetails": {"relatedPlaylists": uploads}}
                    return self._send(200, {"items": [item]})
                if path.path == "/youtube/v3/playlistItems":
                    assert query.get("playlistId") == ["UUfake"], query
                    items = [
                        {
                            "snippet": {
                                "title": video.metadata["snippet"]["title"],
                                "publishedAt": video.published_at,
                                "resourceId": {"kind": "youtube#video", "videoId": video.id},
                            }
                        }
                        for video in reversed(list(fake.videos.values()))
                    ]
                    return self._send(200, {"items": items})
                if path.path == "/youtube/v3/videos":
                    ids = query.get("id", [""])[0].split(",")
                    items = [
                        {"id": vid, "fileDetails": {"fileSize": str(len(fake.videos[vid].data))}}
                        for vid in ids
                        if vid in fake.videos
                    ]
                    return self._send(200, {"items": items})
                return self._error(404, "notFound")

            def do_POST(self) -> None:
                self._record()
                path = urllib.parse.urlparse(self.path)
                query = urllib.parse.parse_qs(path.query)
                if path.path == "/token":
                    return self._token(urllib.parse.parse_qs(self._body().decode()))
                if path.path == "/upload/youtube/v3/videos":
                    body = self._body()
                    if fake.refused_insert_connections:
                        fake.refused_insert_connections -= 1
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return None
                    if not self._authorised():
                        return None
                    if fake.insert_error:
                        status, reason = fake.insert_error
                        return self._error(status, reason)
                    assert query.get("uploadType") == ["resumable"], query
                    size = int(self.headers["X-Upload-Content-Length"])
                    with fake.lock:
                        session_id = f"s{len(fake.sessions) + 1}"
                        fake.sessions[session_id] = Session(size=size, metadata=json.loads(body))
                    location = (
                        f"{fake.url}upload/session/{session_id}?upload_id=secret-{session_id}"
                    )
                    return self._send(200, headers={"Location": location})
                if path.path == "/upload/youtube/v3/captions":
                    body = self._body()
                    if not self._authorised():
                        return None
                    assert query.get("part") == ["snippet"], query
                    match = re.search(rb'"videoId": *"(\w+)"', body)
                    video = fake.videos.get(match.group(1).decode()) if match else None
                    if video is None:
                        return self._error(404, "videoNotFound")
                    video.captions.append(body)
                    return self._send(
                        200, {"kind": "youtube#caption", "id": f"cap{len(video.captions)}"}
                    )
                if path.path == "/upload/youtube/v3/thumbnails/set":
                    body = self._body()
                    if not self._authorised():
                        return None
                    if fake.thumbnail_error:
                        status, reason = fake.thumbnail_error
                        return self._error(status, reason)
                    video = fake.videos.get(query["videoId"][0])
                    if video is None:
                        return self._error(404, "videoNotFound")
                    video.thumbnail = body
                    return self._send(
                        200, {"kind": "youtube#thumbnailSetResponse", "items": [{"default": {}}]}
                    )
                return self._error(404, "notFound")

            def _token(self, form: dict[str, list[str]]) -> None:
                grant = form.get("grant_type", [""])[0]
                if grant == "refresh_token":
                    if fake.refresh_tokens.get(form.get("refresh_token", [""])[0]) != "valid":
                        return self._send(
                            400,
                            {
                                "error": "invalid_grant",
                                "error_description": "Token has been expired or revoked.",
                            },
                        )
                elif grant == "authorization_code":
                    if form.get("code", [""])[0] != "good-code":
                        return self._send(400, {"error": "invalid_grant"})
                else:
                    return self._send(400, {"error": "unsupported_grant_type"})
                with fake.lock:
                    fake.issued += 1
                    token = f"access-{fake.issued}"
                    fake.access_tokens.add(token)
                answer = {
                    "access_token": token,
                    "expires_in": 3600,
                    "token_type": "Bearer",
                    "scope": "https://www.googleapis.com/auth/youtube.upload",
                }
                if grant == "authorization_code":
                    answer["refresh_token"] = "refresh-1"
                return self._send(200, answer)

            def do_PUT(self) -> None:
                self._record()
                match = re.match(r"^/upload/session/(\w+)", self.path)
                session = fake.sessions.get(match.group(1)) if match else None
                body = self._body()
                if session is None or (match and match.group(1) in fake.forgotten):
                    return self._error(404, "notFound")
                if (
                    fake.forget_after_bytes is not None
                    and len(session.data) >= fake.forget_after_bytes
                    and match
                ):
                    fake.forgotten.add(match.group(1))
                    fake.forget_after_bytes = None  # once: the next session lives
                    return self._error(404, "notFound")
                content_range = self.headers.get("Content-Range", "")
                if content_range.startswith("bytes */"):
                    return self._state(session)
                if fake.chunk_delay:
                    time.sleep(fake.chunk_delay)
                if fake.gate is not None:
                    fake.gate.wait(60)
                if fake.drop_next_chunk:
                    fake.drop_next_chunk = False
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return None
                if fake.chunk_statuses:
                    return self._error(fake.chunk_statuses.pop(0), "backendError")
                first = int(re.match(r"bytes (\d+)-", content_range).group(1))  # type: ignore[union-attr]
                with fake.lock:
                    if first != len(session.data):
                        return self._state(session)
                    session.data += body
                    finished = len(session.data) >= session.size and session.video_id is None
                    if finished:
                        session.video_id = f"vid{len(fake.videos) + 1}"
                        fake.videos[session.video_id] = Video(
                            session.video_id, session.metadata, bytes(session.data)
                        )
                if finished and fake.final_delay:
                    time.sleep(fake.final_delay)
                return self._state(session)

            def _state(self, session: Session) -> None:
                if session.video_id is not None:
                    video = fake.videos[session.video_id]
                    return self._send(
                        200, {"kind": "youtube#video", "id": video.id, **video.metadata}
                    )
                headers = {"Range": f"bytes=0-{len(session.data) - 1}"} if session.data else {}
                return self._send(308, headers=headers)

        return Handler
