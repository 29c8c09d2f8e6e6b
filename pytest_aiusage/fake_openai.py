"""A fake OpenAI API: a real HTTP server on the loopback interface speaking the wire format.

Point the real ``openai`` SDK (or any HTTP client) at :attr:`FakeOpenAI.url` and it answers
``POST /v1/chat/completions``, ``/v1/completions`` (legacy), ``/v1/embeddings``,
``/v1/responses`` (JSON and SSE streams) and ``/v1/responses/compact`` with deterministic
bodies: the same sequence of requests always gets the same bytes back, whichever server
instance answers, so cassettes recorded from it are stable.

Background responses (``background=True``) are answered ``queued`` without usage; the
first ``GET /v1/responses/{id}`` says ``in_progress``, the next ones ``completed`` with
the usage, as a poll of the real API would; ``POST /v1/responses/{id}/cancel`` before that
cancels it (no usage).

It also speaks Anthropic's wire format at :attr:`FakeOpenAI.anthropic_url` (the same server;
:class:`FakeAnthropic` is the server whose :attr:`~FakeAnthropic.url` is that one):
``POST /v1/messages`` (JSON and SSE events), ``/v1/messages/count_tokens`` and message
batches (create, retrieve, results as JSON Lines), with or without ``?beta=true``, and the
same messages as Vertex AI (``rawPredict``, ``streamRawPredict``) and Bedrock (``invoke``,
JSON only) serve them to the SDK's cloud clients. Its
replies carry a ``request-id`` header and errors in Anthropic's shape
(``{"type": "error", "error": {"type": ..., "message": ...}}``); usage follows Anthropic's
convention (``input_tokens`` excludes the ``cache_creation_input_tokens`` and
``cache_read_input_tokens`` beside it) and a stream's ``message_delta`` repeats the
cumulative counts.

Example::

    with FakeOpenAI() as server:
        client = openai.OpenAI(api_key="sk-test", base_url=server.url, max_retries=0)
        server.reply(content="Hi!", usage={"prompt_tokens": 10, "completion_tokens": 2})
        completion = client.chat.completions.create(model="gpt-4o-mini", messages=[...])
        assert completion.usage.total_tokens == 12
        server.reply(status=429)  # the next call raises openai.RateLimitError
        assert server.requests[0].headers["authorization"] == "Bearer sk-test"
        client.close()

Default behaviour of unscripted requests:

* the reply text is ``"Echo: "`` plus the last user message (whitespace collapsed, cut at
  80 characters), or ``"Hello from FakeOpenAI."`` when there is no user text;
* token counts come from :func:`count_tokens`; prompts cost 3 tokens per message plus 3,
  like OpenAI's own accounting for chat formats; cached and reasoning tokens are 0;
* ``created`` timestamps and the ``Date`` header are :data:`CREATED_AT`; ids and
  ``x-request-id`` are hashes of the request (method, path, query, body) and how many
  identical requests came before it;
* known model aliases are answered with their dated snapshot (:data:`MODEL_SNAPSHOTS`);
  a model the server does not serve gets a 404 ``model_not_found`` error, as from the
  real API (:meth:`FakeOpenAI.serves_model`);
* embeddings have :data:`DEFAULT_EMBEDDING_DIMENSIONS` dimensions unless ``dimensions`` is
  sent, and are unit vectors derived from a hash of the model and the input.
"""

from __future__ import annotations

import base64
import email.utils
import gzip
import hashlib
import json
import logging
import math
import re
import socket
import struct
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from aiusage_core._models import is_known_model

from ._fake_anthropic import PREFIX as ANTHROPIC_PREFIX
from ._fake_anthropic import AnthropicApi, AnthropicError, error_body, is_anthropic
from ._fake_wire import (
    NO_USAGE,
    UNSCRIPTED,
    Ids,
    NoUsage,
    Script,
    count_tokens,
    default_content,
    dumps,
    parse_json,
    pieces,
    sse_data,
    sse_event,
    texts,
)
from ._fake_wire import (
    prompt_tokens as count_prompt_tokens,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = [
    "ANTHROPIC_API_ORIGIN",
    "ANTHROPIC_ORGANIZATION_ID",
    "API_ORIGIN",
    "CREATED_AT",
    "DEFAULT_EMBEDDING_DIMENSIONS",
    "MODEL_SNAPSHOTS",
    "NO_USAGE",
    "FakeAnthropic",
    "FakeOpenAI",
    "NoUsage",
    "ReceivedRequest",
    "count_tokens",
    "real_api_url",
]

_log = logging.getLogger("aiusage.fake_openai")

ANTHROPIC_ORGANIZATION_ID: Final = "9a3c1e52-6f1d-4b8e-a7c0-2d5e8f4b1a63"
"""The ``anthropic-organization-id`` header of every Anthropic reply (made up, fixed)."""

CREATED_AT: Final = 1_700_000_000
"""The fixed ``created`` / ``created_at`` timestamp of every object the server returns."""

API_ORIGIN: Final = "https://api.openai.com"
"""Where the real API the server stands in for answers (see :func:`real_api_url`)."""

ANTHROPIC_API_ORIGIN: Final = "https://api.anthropic.com"
"""Where Anthropic's API answers: the real API of the server's Anthropic side."""

DEFAULT_EMBEDDING_DIMENSIONS: Final = 8
"""Length of embedding vectors when the request has no ``dimensions`` (small on purpose:
real models return 1536+ floats, which would only bloat cassettes)."""

MODEL_SNAPSHOTS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "gpt-3.5-turbo": "gpt-3.5-turbo-0125",
        "gpt-4-turbo": "gpt-4-turbo-2024-04-09",
        "gpt-4o": "gpt-4o-2024-08-06",
        "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
        "gpt-4.1": "gpt-4.1-2025-04-14",
        "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
        "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
        "gpt-5": "gpt-5-2025-08-07",
        "gpt-5-mini": "gpt-5-mini-2025-08-07",
        "gpt-5-nano": "gpt-5-nano-2025-08-07",
        "o1": "o1-2024-12-17",
        "o3": "o3-2025-04-16",
        "o3-mini": "o3-mini-2025-01-31",
        "o4-mini": "o4-mini-2025-04-16",
    }
)
"""Model aliases the server answers with a dated snapshot, as the real API does; any other
model name is echoed unchanged."""


_DATE: Final = email.utils.formatdate(CREATED_AT, usegmt=True)
_POLL_INTERVAL: Final = 0.02


def real_api_url(url: str, served_at: str) -> str:
    """``url``, of a request sent to the server whose base URL is ``served_at``, as the same
    request to the real API; any other URL unchanged::

        >>> real_api_url("http://127.0.0.1:8000/v1/chat/completions", "http://127.0.0.1:8000/v1")
        'https://api.openai.com/v1/chat/completions'

    A request to the Anthropic side (``/v1/messages...``) is one to Anthropic's API::

        >>> real_api_url("http://127.0.0.1:8000/v1/messages", "http://127.0.0.1:8000/v1")
        'https://api.anthropic.com/v1/messages'
    """
    parts = urlsplit(served_at)
    origin = f"{parts.scheme}://{parts.netloc}"
    if not url.startswith(origin + "/"):
        return url
    path = url[len(origin) :]
    if path.startswith(ANTHROPIC_PREFIX):
        return ANTHROPIC_API_ORIGIN + path
    return API_ORIGIN + path


@dataclass(frozen=True, kw_only=True)
class ReceivedRequest:
    """One HTTP request as the server received it."""

    method: str
    """HTTP method, upper case (``"POST"``)."""
    path: str
    """Path without the query string, e.g. ``"/v1/chat/completions"``."""
    headers: dict[str, str]
    """Request headers with lower-case names (``headers["authorization"]``)."""
    query: dict[str, str]
    """Query parameters (the first value of each name)."""
    json: Any
    """The body parsed as JSON, or ``None`` when it is empty or not JSON."""
    body: bytes
    """The raw request body."""


class _ApiError(Exception):
    """Raised while building a reply; becomes an OpenAI error body."""

    def __init__(
        self, status: int, message: str, *, param: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = _error_object(status, {"message": message, "param": param, "code": code})


class _DropConnection(ConnectionAbortedError):
    """Raised by the WSGI app so that werkzeug abandons the request without answering."""


class _RequestHandler(WSGIRequestHandler):
    """Werkzeug's handler, quiet, and closing the socket when a reply is dropped."""

    def connection_dropped(
        self, error: BaseException, environ: WSGIEnvironment | None = None
    ) -> None:
        # No response was written, so nothing told http.server to close a keep-alive
        # connection: it would wait for another request while the client waits for a reply.
        self.close_connection = True

    # A fixed Date and Server header (not the time, nor werkzeug's and Python's versions), so
    # that cassettes recorded again on another day or machine are the same.
    def date_time_string(self, timestamp: float | None = None) -> str:
        return _DATE

    def version_string(self) -> str:
        return "FakeOpenAI"

    def log(self, type: str, message: str, *args: Any) -> None:
        # werkzeug's default installs a stderr handler on the "werkzeug" logger.
        _log.log(logging.ERROR if type == "error" else logging.DEBUG, message, *args)


class FakeOpenAI:
    """A threaded werkzeug server on ``host`` answering like the OpenAI API.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`. Script the next
    replies with :meth:`reply`; inspect what clients sent with :attr:`requests`.

    ``port=0`` picks a free port. With ``gzip=True`` non-streaming JSON bodies are
    gzip-compressed (deterministically) when the request accepts ``gzip``. An unscripted
    OpenAI request for a model the server does not serve (:meth:`serves_model`; add names
    with ``models=[...]``) gets a 404 ``model_not_found``, as from the real API.

    Every answered request is logged at ``INFO`` on the ``aiusage.fake_openai`` logger
    (``POST /v1/chat/completions -> 200 (model=gpt-4o-mini)``). To run it on its own, see
    ``aiusage fake-server --help`` (or ``python -m pytest_aiusage.fake_openai``).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        gzip: bool = False,
        models: Iterable[str] = (),
    ) -> None:
        self._host = host
        self._port = port
        self._gzip = gzip
        self._models = frozenset(models)
        self._lock = threading.Lock()
        self._scripts: deque[Script] = deque()
        self._requests: list[ReceivedRequest] = []
        self._seen: Counter[bytes] = Counter()
        # Background responses by id: the finished response, and how often it was polled.
        self._background: dict[str, list[Any]] = {}
        self._stopping = threading.Event()
        self._server: BaseWSGIServer | None = None
        self._anthropic = AnthropicApi()
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> FakeOpenAI:
        """Start serving in a daemon thread and return ``self``.

        Raises :class:`RuntimeError` if the server is already running, :class:`OSError` if
        the port cannot be bound (``errno.EADDRINUSE`` when it is taken).
        """
        if self._server is not None:
            raise RuntimeError(
                f"FakeOpenAI is already running at {self.url}; call stop() before start()"
            )
        self._stopping.clear()
        # The socket is bound here, not by werkzeug, which prints and exits the process when
        # the port is taken: here that is an OSError for the caller to handle.
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as listening:
            listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listening.bind((self._host, self._port))
            listening.listen(128)
            server = make_server(
                self._host,
                self._port,
                self._wsgi_app,
                threaded=True,
                request_handler=_RequestHandler,
                fd=listening.fileno(),  # werkzeug works on a duplicate of it
            )
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL},
            name=f"FakeOpenAI:{server.port}",
            daemon=True,
        )
        thread.start()
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket; a no-op when not running.

        Replies waiting out a scripted ``delay`` are woken up first.
        """
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._stopping.set()
        server.shutdown()
        thread.join()
        server.server_close()
        self._server = self._thread = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The ``base_url`` to give the SDK, e.g. ``"http://127.0.0.1:54321/v1"``."""
        return f"{self._root()}/v1"

    @property
    def anthropic_url(self) -> str:
        """The ``base_url`` to give the ``anthropic`` SDK, e.g. ``"http://127.0.0.1:54321"``
        (it adds ``/v1/messages`` itself)."""
        return self._root()

    def _root(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeOpenAI is not running; call start() or use it in a with")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._server.port}"

    def environment(self) -> dict[str, str]:
        """The environment variables that point an OpenAI or Anthropic SDK made with no
        arguments at this server: ``OPENAI_BASE_URL``, ``ANTHROPIC_BASE_URL`` and dummy API
        keys (the server takes any)."""
        from ._cassettes._fixtures import DUMMY_API_KEY

        return {
            "OPENAI_BASE_URL": self.url,
            "OPENAI_API_KEY": DUMMY_API_KEY,
            "ANTHROPIC_BASE_URL": self.anthropic_url,
            "ANTHROPIC_API_KEY": DUMMY_API_KEY,
        }

    # -- scripting and inspection -------------------------------------------------------

    @property
    def requests(self) -> list[ReceivedRequest]:
        """A copy of every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def pending_replies(self) -> int:
        """How many scripted replies no request has consumed yet."""
        with self._lock:
            return len(self._scripts)

    def reply(
        self,
        *,
        content: str | None = None,
        model: str | None = None,
        usage: Mapping[str, Any] | NoUsage | None = None,
        service_tier: str | None = None,
        status: int = 200,
        error: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
        include_usage_in_stream: bool | None = None,
        drop_connection: bool = False,
    ) -> None:
        """Queue one scripted reply for the next request, whatever its endpoint (FIFO).

        Arguments left at their default keep the unscripted behaviour:

        * ``content``: the reply text (chat, responses and messages; ignored by embeddings).
        * ``model``: the response ``model``, verbatim (no snapshot mapping).
        * ``usage``: the usage object in the endpoint's wire shape, sent verbatim except
          that ``total_tokens`` is filled in when absent and both halves are integers
          (OpenAI's endpoints); :data:`NO_USAGE` sends no usage at all. An Anthropic
          stream sends it in ``message_start`` (with one output token, and without
          ``server_tool_use``) and its counts again in ``message_delta``; a message batch
          gives it to every result.
        * ``service_tier``: the response ``service_tier`` (Anthropic: ``usage.service_tier``
          of unscripted usage).
        * ``status``: HTTP status; from 400 the body is the provider's error JSON, whose
          fields default by status and are overridden by ``error`` (OpenAI's ``message``,
          ``type``, ``param``, ``code``; Anthropic's ``type``, ``message``).
        * ``headers``: extra response headers, overriding the defaults.
        * ``delay``: seconds to wait before answering (for client timeouts).
        * ``include_usage_in_stream`` (OpenAI only): force the chat stream's usage chunk on
          or off instead of following ``stream_options.include_usage``; ``False`` also
          drops usage from a Responses stream's ``response.completed`` event.
        * ``drop_connection``: close the connection without any response.
        """
        if not 200 <= status <= 599:
            raise ValueError(f"status must be between 200 and 599, got {status!r}")
        if error is not None and status < 400:
            raise ValueError(f"error needs an error status (>= 400), got status={status!r}")
        if not (math.isfinite(delay) and delay >= 0):
            raise ValueError(f"delay must be a finite number of seconds >= 0, got {delay!r}")
        script = Script(
            content=content,
            model=model,
            usage=usage,
            service_tier=service_tier,
            status=status,
            error=error,
            headers=dict(headers or {}),
            delay=delay,
            include_usage_in_stream=include_usage_in_stream,
            drop_connection=drop_connection,
        )
        with self._lock:
            self._scripts.append(script)

    def serves_model(self, model: str) -> bool:
        """Whether an unscripted OpenAI request for ``model`` is answered (else: a 404
        ``model_not_found``, as from the real API).

        Served: the models genai-prices knows for OpenAI (aliases and dated snapshots),
        fine-tunes (``ft:...``), and the names given as ``FakeOpenAI(models=[...])``. A
        scripted :meth:`reply` answers whatever the model.
        """
        return (
            model in self._models
            or model in MODEL_SNAPSHOTS
            or model.startswith("ft:")
            or is_known_model(model, "openai")
        )

    def reset(self) -> None:
        """Forget scripted replies and received requests, and restart id generation."""
        with self._lock:
            self._scripts.clear()
            self._requests.clear()
            self._seen.clear()
            self._background.clear()
        self._anthropic.reset()

    # -- serving ------------------------------------------------------------------------

    def _wsgi_app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        response = self._respond(request)
        return response(environ, start_response)

    def _respond(self, request: Request) -> Response:
        body = request.get_data()
        received = ReceivedRequest(
            method=request.method,
            path=request.path,
            headers={name.lower(): value for name, value in request.headers.items()},
            query=request.args.to_dict(),
            json=parse_json(body),
            body=body,
        )
        key = hashlib.sha256(
            b"\0".join([request.method.encode(), request.full_path.encode(), body])
        ).digest()
        with self._lock:
            self._requests.append(received)
            script = self._scripts.popleft() if self._scripts else UNSCRIPTED
            self._seen[key] += 1
            ids = Ids(key + self._seen[key].to_bytes(8, "big"))

        if script.delay:
            self._stopping.wait(script.delay)
        if script.drop_connection:
            raise _DropConnection("FakeOpenAI: scripted drop_connection")

        if is_anthropic(request.path):
            response = self._anthropic_response(request, received, script, ids)
        else:
            response = self._openai_response(request, received, script, ids)
        if self._gzip and not response.is_streamed and request.accept_encodings.quality("gzip") > 0:
            response.set_data(gzip.compress(response.get_data(), mtime=0))
            response.headers["content-encoding"] = "gzip"
            response.vary.add("accept-encoding")
        response.headers.update(script.headers)
        model = received.json.get("model") if isinstance(received.json, dict) else None
        _log.info(
            "%s %s -> %s%s",
            request.method,
            request.full_path.rstrip("?"),
            response.status_code,
            f" (model={model})" if isinstance(model, str) else "",
        )
        return response

    def _openai_response(
        self, request: Request, received: ReceivedRequest, script: Script, ids: Ids
    ) -> Response:
        try:
            response = self._route(request, received, script, ids)
        except _ApiError as exc:
            response = _json_response(exc.status, {"error": exc.error})
        except Exception:
            _log.exception("FakeOpenAI failed to answer %s %s", request.method, request.path)
            response = _json_response(500, {"error": _error_object(500, None)})
        processing_ms = int(script.delay * 1000) + int(ids.hex("processing", 2), 16) % 90 + 10
        response.headers["x-request-id"] = f"req_{ids.hex('request', 32)}"
        response.headers["openai-processing-ms"] = str(processing_ms)
        response.headers["openai-version"] = "2020-10-01"
        return response

    def _anthropic_response(
        self, request: Request, received: ReceivedRequest, script: Script, ids: Ids
    ) -> Response:
        request_id = f"req_{ids.hex('request', 24)}"
        status = script.status
        try:
            if status >= 400:
                raise AnthropicError(status, "", None)
            reply = self._anthropic.respond(
                request.method,
                request.path,
                received.json,
                script,
                ids,
                request.host_url.rstrip("/"),
            )
        except AnthropicError as exc:
            overrides = script.error if script.status >= 400 else exc.overrides
            status = exc.status
            response = _json_response(status, error_body(status, overrides, request_id))
        except Exception:
            _log.exception("FakeOpenAI failed to answer %s %s", request.method, request.path)
            status = 500
            response = _json_response(status, error_body(status, None, request_id))
        else:
            if reply.stream is not None:
                response = Response(
                    reply.stream,
                    status=status,
                    mimetype="text/event-stream",
                    direct_passthrough=True,
                )
            elif reply.jsonl is not None:
                response = Response(reply.jsonl, status=status, mimetype="application/x-jsonl")
            else:
                response = _json_response(status, reply.payload or {})
        response.headers["request-id"] = request_id
        response.headers["anthropic-organization-id"] = ANTHROPIC_ORGANIZATION_ID
        return response

    def _route(
        self, request: Request, received: ReceivedRequest, script: Script, ids: Ids
    ) -> Response:
        body = received.json
        if script.status >= 400:
            model = body.get("model") if isinstance(body, dict) else None
            return _json_response(
                script.status, {"error": _error_object(script.status, script.error, model)}
            )
        handler = _ENDPOINTS.get(request.path) if request.method == "POST" else None
        if handler is None:
            found = _STORED.fullmatch(request.path)
            if (
                found is not None
                and request.method in ("GET", "POST")
                and ((request.method == "POST") == bool(found.group(2)))
            ):
                return _json_response(200, self._poll(found.group(1), cancel=bool(found.group(2))))
            raise _ApiError(404, f"Invalid URL ({request.method} {request.path})")
        if not isinstance(body, dict):
            raise _ApiError(
                400,
                "We could not parse the JSON body of your request. The OpenAI API expects a "
                "JSON payload.",
            )
        if not isinstance(body.get("model"), str):
            raise _ApiError(
                400, "You must provide a model parameter.", code="missing_required_parameter"
            )
        if script is UNSCRIPTED and not self.serves_model(body["model"]):
            raise _ApiError(
                404,
                f"The model `{body['model']}` does not exist or you do not have access to it.",
                code="model_not_found",
            )
        reply = handler(body, script, ids)
        if isinstance(reply, dict):
            if handler is _responses and body.get("background") is True:
                reply = self._queue(reply)
            return _json_response(script.status, reply)
        return Response(
            reply, status=script.status, mimetype="text/event-stream", direct_passthrough=True
        )

    def _queue(self, finished: dict[str, Any]) -> dict[str, Any]:
        """Keep a background response's finished form; answer it ``queued``, without usage."""
        finished = {**finished, "background": True}
        with self._lock:
            self._background[finished["id"]] = [finished, 0]
        return _unfinished(finished, "queued")

    def _poll(self, response_id: str, *, cancel: bool) -> dict[str, Any]:
        """``GET /v1/responses/{id}`` (``in_progress`` on the first poll, then finished) or
        ``POST /v1/responses/{id}/cancel`` of a background response."""
        with self._lock:
            entry = self._background.get(response_id)
            if entry is None:
                raise _ApiError(
                    404, f"Response with id '{response_id}' not found.", param="response_id"
                )
            finished, polls = entry
            if cancel:
                if polls < 2:
                    entry[0] = finished = _unfinished(finished, "cancelled")
                entry[1] = 2
                return dict(finished)
            entry[1] = polls + 1
        return _unfinished(finished, "in_progress") if polls == 0 else dict(finished)


def _unfinished(finished: Mapping[str, Any], status: str) -> dict[str, Any]:
    """A background response before it finished (or cancelled): no output, no usage."""
    return {**finished, "status": status, "output": [], "usage": None, "completed_at": None}


_STORED: Final = re.compile(r"/v1/responses/(resp_[0-9a-f]+)(/cancel)?")


class FakeAnthropic(FakeOpenAI):
    """The fake server, seen from the ``anthropic`` SDK: :attr:`url` is the server's root,
    the ``base_url`` that SDK takes (it adds ``/v1/messages`` itself).

    Example::

        with FakeAnthropic() as server:
            client = anthropic.Anthropic(api_key="sk-ant-test", base_url=server.url)
            server.reply(usage={"input_tokens": 10, "cache_read_input_tokens": 90,
                                "output_tokens": 5})
            message = client.messages.create(model="claude-haiku-4-5", max_tokens=64,
                                             messages=[{"role": "user", "content": "Hi"}])
            assert message.usage.cache_read_input_tokens == 90
            client.close()
    """

    @property
    def url(self) -> str:
        """The ``base_url`` to give the ``anthropic`` SDK, e.g. ``"http://127.0.0.1:54321"``."""
        return self.anthropic_url


# -- shared building blocks -----------------------------------------------------------------

_Reply = dict[str, Any] | Iterator[bytes]

_ERROR_DEFAULTS: Final[Mapping[int, tuple[str, str, str | None]]] = {
    400: ("Invalid request (scripted by FakeOpenAI).", "invalid_request_error", None),
    401: (
        "Incorrect API key provided. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        "invalid_request_error",
        "invalid_api_key",
    ),
    403: ("You are not allowed to sample from this model.", "invalid_request_error", None),
    404: (
        "The model `{model}` does not exist or you do not have access to it.",
        "invalid_request_error",
        "model_not_found",
    ),
    429: (
        "Rate limit reached for {model} on requests per min (RPM). Please try again in 1s.",
        "requests",
        "rate_limit_exceeded",
    ),
    500: (
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
        None,
    ),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
}


def _error_object(
    status: int, overrides: Mapping[str, Any] | None, model: object = None
) -> dict[str, Any]:
    """OpenAI's ``error`` object for ``status``, with ``overrides`` applied on top."""
    fallback_type = "server_error" if status >= 500 else "invalid_request_error"
    message, type_, code = _ERROR_DEFAULTS.get(
        status, (f"HTTP {status} (scripted by FakeOpenAI).", fallback_type, None)
    )
    error: dict[str, Any] = {
        "message": message.replace("{model}", model if isinstance(model, str) else "unknown"),
        "type": type_,
        "param": None,
        "code": code,
    }
    error.update(overrides or {})
    return error


def _json_response(status: int, payload: Mapping[str, Any]) -> Response:
    return Response(dumps(payload), status=status, mimetype="application/json")


def _snapshot(model: str) -> str:
    return MODEL_SNAPSHOTS.get(model, model)


def _service_tier(body: Mapping[str, Any], script: Script) -> str:
    if script.service_tier is not None:
        return script.service_tier
    requested = body.get("service_tier")
    return requested if isinstance(requested, str) and requested != "auto" else "default"


def _system_fingerprint(model: str) -> str:
    return "fp_" + hashlib.sha256(model.encode("utf-8", "surrogatepass")).hexdigest()[:10]


def _usage(
    default: dict[str, Any], script: Script, parts: tuple[str, ...]
) -> dict[str, Any] | None:
    """The usage object to send: the default, the scripted one, or ``None`` for none."""
    if script.usage is None:
        return default
    if isinstance(script.usage, NoUsage):
        return None
    usage = json.loads(dumps(script.usage))  # a deep copy that is surely JSON
    values = [usage.get(name) for name in parts]
    if "total_tokens" not in usage and all(
        isinstance(value, int) and not isinstance(value, bool) for value in values
    ):
        usage["total_tokens"] = sum(values)
    return usage  # type: ignore[no-any-return]


def _required_list(body: Mapping[str, Any], name: str) -> list[Any]:
    value = body.get(name)
    if not isinstance(value, list):
        raise _ApiError(
            400,
            f"Missing required parameter: '{name}'.",
            param=name,
            code="missing_required_parameter",
        )
    return value


def _positive_int(body: Mapping[str, Any], name: str, default: int) -> int:
    value = body.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise _ApiError(400, f"Invalid '{name}': expected an integer >= 1.", param=name)
    return value


# -- POST /v1/chat/completions ----------------------------------------------------------------


def _chat_completions(body: dict[str, Any], script: Script, ids: Ids) -> _Reply:
    messages = _required_list(body, "messages")
    n = _positive_int(body, "n", 1)
    content = script.content if script.content is not None else default_content(messages)
    model = script.model or _snapshot(body["model"])
    prompt_tokens = count_prompt_tokens(messages)
    completion_tokens = count_tokens(content) * n
    default_usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }
    usage = _usage(default_usage, script, ("prompt_tokens", "completion_tokens"))
    envelope = {
        "id": f"chatcmpl-{ids.hex('chatcmpl', 29)}",
        "object": "chat.completion",
        "created": CREATED_AT,
        "model": model,
    }
    trailer = {
        "service_tier": _service_tier(body, script),
        "system_fingerprint": _system_fingerprint(model),
    }

    if body.get("stream") is not True:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": content,
            "refusal": None,
            "annotations": [],
        }
        choices = [
            {"index": i, "message": message, "logprobs": None, "finish_reason": "stop"}
            for i in range(n)
        ]
        completion = {**envelope, "choices": choices, **trailer}
        if usage is not None:
            completion["usage"] = usage
        return completion

    stream_options = body.get("stream_options")
    include_usage = script.include_usage_in_stream
    if include_usage is None:
        include_usage = isinstance(stream_options, dict) and stream_options.get("include_usage")
    return _chat_chunks(
        {**envelope, "object": "chat.completion.chunk", **trailer},
        content,
        n,
        usage if include_usage else None,
        usage_field=bool(include_usage),
    )


def _chat_chunks(
    envelope: dict[str, Any],
    content: str,
    n: int,
    usage: dict[str, Any] | None,
    *,
    usage_field: bool,
) -> Iterator[bytes]:
    """SSE ``data:`` lines of ``chat.completion.chunk`` objects, then ``[DONE]``."""
    extra: dict[str, Any] = {"usage": None} if usage_field else {}
    deltas: list[tuple[dict[str, Any], str | None]] = [
        ({"role": "assistant", "content": "", "refusal": None}, None),
        *(({"content": piece}, None) for piece in pieces(content)),
        ({}, "stop"),
    ]
    for delta, finish_reason in deltas:
        for index in range(n):
            choice = {
                "index": index,
                "delta": delta,
                "logprobs": None,
                "finish_reason": finish_reason,
            }
            yield sse_data({**envelope, "choices": [choice], **extra})
    if usage is not None:
        yield sse_data({**envelope, "choices": [], "usage": usage})
    yield b"data: [DONE]\n\n"


# -- POST /v1/embeddings ---------------------------------------------------------------------


def _embeddings(body: dict[str, Any], script: Script, ids: Ids) -> _Reply:
    items = _embedding_inputs(body.get("input"))
    dimensions = _positive_int(body, "dimensions", DEFAULT_EMBEDDING_DIMENSIONS)
    encoding_format = body.get("encoding_format", "float")
    if encoding_format not in ("float", "base64"):
        raise _ApiError(
            400,
            f"Invalid value for 'encoding_format': {encoding_format!r}. "
            "Supported values are: 'float' and 'base64'.",
            param="encoding_format",
        )
    data = []
    for index, item in enumerate(items):
        vector = _embedding_vector(body["model"], item, dimensions)
        encoded: list[float] | str = vector
        if encoding_format == "base64":
            encoded = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    prompt_tokens = sum(
        count_tokens(item) if isinstance(item, str) else len(item) for item in items
    )
    default_usage = {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}
    response: dict[str, Any] = {
        "object": "list",
        "data": data,
        "model": script.model or _snapshot(body["model"]),
    }
    usage = _usage(default_usage, script, ("prompt_tokens",))
    if usage is not None:
        response["usage"] = usage
    return response


def _is_tokens(value: object) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(token, int) and not isinstance(token, bool) for token in value)
    )


def _embedding_inputs(value: object) -> list[str | list[int]]:
    """Normalise ``input``: a string, strings, a token array, or token arrays."""
    if isinstance(value, str):
        return [value]
    if _is_tokens(value):
        return [value]  # type: ignore[list-item]
    if isinstance(value, list) and value:
        if all(isinstance(item, str) for item in value):
            return list(value)
        if all(_is_tokens(item) for item in value):
            return list(value)
    raise _ApiError(
        400,
        "'input' must be a string, an array of strings, an array of tokens, or an array "
        "of token arrays.",
        param="input",
    )


def _embedding_vector(model: str, item: str | list[int], dimensions: int) -> list[float]:
    """A unit vector of float32 values derived from a hash of ``model`` and ``item``."""
    seed = hashlib.sha256(dumps([model, item])).digest()
    raw = b""
    while len(raw) < 4 * dimensions:
        raw += hashlib.sha256(seed + len(raw).to_bytes(8, "big")).digest()
    values = [
        int.from_bytes(raw[4 * i : 4 * i + 4], "big") / 2**31 - 1.0 for i in range(dimensions)
    ]
    norm = math.sqrt(sum(value * value for value in values)) or 1.0
    # Round through float32 so that the "float" and "base64" encodings carry equal values.
    packed = struct.pack(f"<{dimensions}f", *(value / norm for value in values))
    return list(struct.unpack(f"<{dimensions}f", packed))


# -- POST /v1/responses ----------------------------------------------------------------------


def _responses_usage(
    body: dict[str, Any], items: list[Any], script: Script
) -> tuple[str, dict[str, Any] | None]:
    """The text a Responses API call (a response or a compaction) writes for its input
    ``items``, and its usage in the Responses shape (the script's overrides applied;
    ``None`` when the script sends none)."""
    instructions = body.get("instructions")
    prompt = [{"role": "system", "content": instructions}, *items] if instructions else items
    text = script.content if script.content is not None else default_content(items)
    input_tokens = count_prompt_tokens(prompt)
    output_tokens = count_tokens(text)
    default_usage = {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    }
    return text, _usage(default_usage, script, ("input_tokens", "output_tokens"))


def _responses(body: dict[str, Any], script: Script, ids: Ids) -> _Reply:
    raw_input = body.get("input")
    if isinstance(raw_input, str):
        items: list[Any] = [{"role": "user", "content": raw_input}]
    else:
        items = _required_list(body, "input")
    text, usage = _responses_usage(body, items, script)
    model = script.model or _snapshot(body["model"])
    message_id = f"msg_{ids.hex('msg', 50)}"

    def response(status: str, output: list[Any], usage: dict[str, Any] | None) -> dict[str, Any]:
        completed = status == "completed"
        obj = {
            "id": f"resp_{ids.hex('resp', 50)}",
            "object": "response",
            "created_at": CREATED_AT,
            "status": status,
            "background": False,
            "completed_at": CREATED_AT + 1 if completed else None,
            "error": None,
            "incomplete_details": None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "max_tool_calls": body.get("max_tool_calls"),
            "model": model,
            "output": output,
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "previous_response_id": body.get("previous_response_id"),
            "reasoning": {"effort": None, "summary": None},
            "service_tier": _service_tier(body, script),
            "store": body.get("store", True),
            "temperature": body.get("temperature", 1.0),
            "text": {"format": {"type": "text"}, "verbosity": "medium"},
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": body.get("tools", []),
            "top_p": body.get("top_p", 1.0),
            "truncation": body.get("truncation", "disabled"),
            "user": None,
            "metadata": body.get("metadata") or {},
        }
        if usage is not None or not completed:
            obj["usage"] = usage
        return obj

    def message(status: str, parts: list[Any]) -> dict[str, Any]:
        return {
            "id": message_id,
            "type": "message",
            "status": status,
            "role": "assistant",
            "content": parts,
        }

    def part(text: str) -> dict[str, Any]:
        return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}

    done_message = message("completed", [part(text)])
    if body.get("stream") is not True:
        return response("completed", [done_message], usage)
    if script.include_usage_in_stream is False:
        usage = None
    position = {"item_id": message_id, "output_index": 0}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": response("in_progress", [], None)},
        {"type": "response.in_progress", "response": response("in_progress", [], None)},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": message("in_progress", []),
        },
        {"type": "response.content_part.added", **position, "content_index": 0, "part": part("")},
        *(
            {
                "type": "response.output_text.delta",
                **position,
                "content_index": 0,
                "delta": piece,
                "logprobs": [],
            }
            for piece in pieces(text)
        ),
        {
            "type": "response.output_text.done",
            **position,
            "content_index": 0,
            "text": text,
            "logprobs": [],
        },
        {"type": "response.content_part.done", **position, "content_index": 0, "part": part(text)},
        {"type": "response.output_item.done", "output_index": 0, "item": done_message},
        {"type": "response.completed", "response": response("completed", [done_message], usage)},
    ]
    return (sse_event({**event, "sequence_number": number}) for number, event in enumerate(events))


# -- POST /v1/responses/compact -----------------------------------------------------------


def _compact(body: dict[str, Any], script: Script, ids: Ids) -> _Reply:
    raw_input = body.get("input")
    if isinstance(raw_input, str):
        items: list[Any] = [{"role": "user", "content": raw_input}]
    elif raw_input is None and body.get("previous_response_id"):
        items = []
    else:
        items = _required_list(body, "input")
    summary, usage = _responses_usage(body, items, script)
    users = [
        {
            "id": f"msg_{ids.hex(f'user{i}', 50)}",
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": [{"type": "input_text", "text": " ".join(texts(item.get("content")))}],
        }
        for i, item in enumerate(items)
        if isinstance(item, dict) and item.get("role") == "user"
    ]
    compaction = {
        "id": f"cmp_{ids.hex('cmp', 50)}",
        "type": "compaction",
        # Not encrypted: the summary, encoded, stands in for what the real API sends.
        "encrypted_content": base64.b64encode(summary.encode()).decode(),
    }
    compacted: dict[str, Any] = {
        "id": f"resp_{ids.hex('compact', 50)}",
        "object": "response.compaction",
        "created_at": CREATED_AT,
        "output": [*users, compaction],
        "service_tier": _service_tier(body, script),
    }
    if usage is not None:
        compacted["usage"] = usage
    return compacted


# -- POST /v1/completions (legacy) ---------------------------------------------------------


def _completions(body: dict[str, Any], script: Script, ids: Ids) -> _Reply:
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        prompts = [prompt]
    elif isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
        prompts = list(prompt)
    else:
        raise _ApiError(400, "'prompt' must be a string or an array of strings.", param="prompt")
    n = _positive_int(body, "n", 1)
    best_of = _positive_int(body, "best_of", n)
    if best_of < n:
        raise _ApiError(400, "best_of must be greater than or equal to n.", param="best_of")
    model = script.model or _snapshot(body["model"])
    replies = [
        script.content
        if script.content is not None
        else default_content([{"role": "user", "content": p}])
        for p in prompts
    ]
    prompt_tokens = sum(count_tokens(p) for p in prompts)
    # Every one of best_of candidates is generated and billed; n of them are returned.
    completion_tokens = sum(count_tokens(t) for t in replies) * best_of
    default_usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    usage = _usage(default_usage, script, ("prompt_tokens", "completion_tokens"))
    envelope = {
        "id": f"cmpl-{ids.hex('cmpl', 29)}",
        "object": "text_completion",
        "created": CREATED_AT,
        "model": model,
        "system_fingerprint": _system_fingerprint(model),
    }
    if body.get("stream") is not True:
        choices = [
            {"text": text, "index": p * n + i, "logprobs": None, "finish_reason": "stop"}
            for p, text in enumerate(replies)
            for i in range(n)
        ]
        completion = {**envelope, "choices": choices}
        if usage is not None:
            completion["usage"] = usage
        return completion
    stream_options = body.get("stream_options")
    include_usage = script.include_usage_in_stream
    if include_usage is None:
        include_usage = isinstance(stream_options, dict) and stream_options.get("include_usage")
    return _completion_chunks(envelope, replies, n, usage if include_usage else None)


def _completion_chunks(
    envelope: dict[str, Any], replies: list[str], n: int, usage: dict[str, Any] | None
) -> Iterator[bytes]:
    """SSE ``data:`` lines of ``text_completion`` chunks, a usage chunk if asked, ``[DONE]``."""
    for p, text in enumerate(replies):
        deltas = [*pieces(text), ""]
        for number, piece in enumerate(deltas):
            last = number == len(deltas) - 1
            for i in range(n):
                choice = {
                    "text": piece,
                    "index": p * n + i,
                    "logprobs": None,
                    "finish_reason": "stop" if last else None,
                }
                yield sse_data({**envelope, "choices": [choice]})
    if usage is not None:
        yield sse_data({**envelope, "choices": [], "usage": usage})
    yield b"data: [DONE]\n\n"


_Endpoint = Callable[[dict[str, Any], Script, Ids], _Reply]

_ENDPOINTS: Final[Mapping[str, _Endpoint]] = {
    "/v1/chat/completions": _chat_completions,
    "/v1/completions": _completions,
    "/v1/embeddings": _embeddings,
    "/v1/responses": _responses,
    "/v1/responses/compact": _compact,
}


if __name__ == "__main__":  # python -m pytest_aiusage.fake_openai
    from pytest_aiusage._serve import main

    raise SystemExit(main())
