"""What a request handler works on: the ``Runtime`` of the app that received the request.

The runtime hangs on ``app.state`` rather than in a module global, so that several apps (one
per test, each with its own runtime) can live in one process.
"""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, FastAPI, Request

from controller.runtime import Runtime


def attach_runtime(app: FastAPI, runtime: Runtime) -> None:
    app.state.runtime = runtime


async def runtime_of(request: Request) -> Runtime:
    # async: FastAPI runs a plain ``def`` dependency in its thread pool, a thread hop on
    # every use, several per request.
    return cast(Runtime, request.app.state.runtime)


RuntimeDep = Annotated[Runtime, Depends(runtime_of)]
