"""Acme: the SDK of a made-up provider, for testing the provider seam.

It is shaped like the Stainless-generated SDKs the seam hooks (every call ends in the
client's ``request(cast_to, options, ...)``; a stream is a ``Stream`` over an ``httpx2``
response whose ``_iterator`` yields parsed items and closes the response at its end), and
nothing else is borrowed: its own wire format, errors and request-id header. HTTP goes
through an injected ``httpx2`` transport.

Wire format of ``POST /v2/generate``: ``{"model", "prompt", "stream"}`` in; out, a JSON
completion ``{"id", "model", "tier", "text", "meter"}`` or, streamed, one JSON event per
line (``start`` naming the model and tier, ``text``, ``meter`` with the counts so far,
``stop``). A meter is ``{"prompt", "cached", "completion", "thinking"}`` where ``prompt``
excludes the ``cached`` tokens and ``completion`` includes the ``thinking`` ones.
``POST /v2/count`` counts a prompt's tokens (not a billable call).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx2

REQUEST_ID_HEADER = "acme-request-id"


@dataclass
class RequestOptions:
    method: str
    url: str
    json_data: Any
    extra_json: Mapping[str, Any] | None = None


class AcmeError(Exception):
    request_id: str | None = None


class AcmeStatusError(AcmeError):
    def __init__(self, response: httpx2.Response) -> None:
        super().__init__(f"Acme answered {response.status_code}: {response.text}")
        self.status_code = response.status_code
        self.request_id = response.headers.get(REQUEST_ID_HEADER)


class AcmeConnectionError(AcmeError):
    pass


@dataclass
class Completion:
    id: str
    model: str
    tier: str | None
    text: str
    meter: Mapping[str, int]
    _request_id: str | None = None


def _completion(response: httpx2.Response) -> Completion:
    body = response.json()
    return Completion(
        body["id"],
        body["model"],
        body.get("tier"),
        body["text"],
        body["meter"],
        response.headers.get(REQUEST_ID_HEADER),
    )


class Stream:
    def __init__(self, response: httpx2.Response) -> None:
        self.response = response
        self._iterator = self.__stream__()

    def __stream__(self) -> Iterator[dict[str, Any]]:
        try:
            for line in self.response.iter_lines():
                if line:
                    yield json.loads(line)
        finally:
            self.response.close()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        yield from self._iterator

    def close(self) -> None:
        self.response.close()


class AsyncStream:
    def __init__(self, response: httpx2.Response) -> None:
        self.response = response
        self._iterator = self.__stream__()

    async def __stream__(self) -> AsyncIterator[dict[str, Any]]:
        try:
            async for line in self.response.aiter_lines():
                if line:
                    yield json.loads(line)
        finally:
            await self.response.aclose()

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        async for item in self._iterator:
            yield item

    async def close(self) -> None:
        await self.response.aclose()


class RawResponse:
    """``generate(..., raw=True)``: the HTTP response, its body read."""

    def __init__(self, response: httpx2.Response) -> None:
        self.http_response = response

    def parse(self) -> Completion:
        return _completion(self.http_response)


def _options(path: str, body: dict[str, Any]) -> RequestOptions:
    return RequestOptions("post", path, body)


class Acme:
    """The synchronous client."""

    def __init__(self, *, transport: httpx2.BaseTransport) -> None:
        self._transport = transport
        self._http = httpx2.Client(transport=transport, base_url="https://api.acme.test/v2")

    def copy(self) -> Acme:
        return self.__class__(transport=self._transport)

    with_options = copy

    def request(
        self, cast_to: type, options: RequestOptions, *, stream: bool = False, raw: bool = False
    ) -> Any:
        request = self._http.build_request(
            options.method, options.url.lstrip("/"), json=options.json_data
        )
        try:
            response = self._http.send(request, stream=stream)
        except httpx2.TransportError as exc:
            raise AcmeConnectionError(f"Acme unreachable: {exc}") from exc
        if response.status_code >= 400:
            response.read()
            raise AcmeStatusError(response)
        if stream:
            return Stream(response)
        if raw:
            return RawResponse(response)
        return _completion(response) if cast_to is Completion else response.json()

    def generate(self, *, model: str, prompt: str, stream: bool = False, raw: bool = False) -> Any:
        body = {"model": model, "prompt": prompt, "stream": stream}
        return self.request(Completion, _options("/generate", body), stream=stream, raw=raw)

    def count(self, *, model: str, prompt: str) -> Any:
        return self.request(dict, _options("/count", {"model": model, "prompt": prompt}))

    def close(self) -> None:
        self._http.close()


class AsyncAcme:
    """The asynchronous client."""

    def __init__(self, *, transport: httpx2.AsyncBaseTransport) -> None:
        self._transport = transport
        self._http = httpx2.AsyncClient(transport=transport, base_url="https://api.acme.test/v2")

    def copy(self) -> AsyncAcme:
        return self.__class__(transport=self._transport)

    with_options = copy

    async def request(
        self, cast_to: type, options: RequestOptions, *, stream: bool = False, raw: bool = False
    ) -> Any:
        request = self._http.build_request(
            options.method, options.url.lstrip("/"), json=options.json_data
        )
        try:
            response = await self._http.send(request, stream=stream)
        except httpx2.TransportError as exc:
            raise AcmeConnectionError(f"Acme unreachable: {exc}") from exc
        if response.status_code >= 400:
            await response.aread()
            raise AcmeStatusError(response)
        if stream:
            return AsyncStream(response)
        if raw:
            return RawResponse(response)
        return _completion(response) if cast_to is Completion else response.json()

    async def generate(
        self, *, model: str, prompt: str, stream: bool = False, raw: bool = False
    ) -> Any:
        body = {"model": model, "prompt": prompt, "stream": stream}
        return await self.request(Completion, _options("/generate", body), stream=stream, raw=raw)

    async def close(self) -> None:
        await self._http.aclose()
