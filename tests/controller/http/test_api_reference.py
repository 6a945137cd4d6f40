"""docs/api.md's endpoint tables are made from the app's OpenAPI document: every endpoint is
listed with its least role, and the file is current."""

from __future__ import annotations

from typing import Any

import pytest

from controller.http.api_reference import BEGIN, DOC, END, METHODS, build_openapi, update

# The only endpoints that answer without a token: liveness, and the files field nodes fetch
# by an unguessable token in the path.
PUBLIC = {("get", "/api/v1/health"), ("get", "/media/{token}.wav"), ("get", "/media/{token}.pcm"),
          ("get", "/media/{token}.bin"), ("post", "/api/v1/session")}
ROLES = {"viewer", "operator", "technician", "admin"}


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return build_openapi()


def operations(openapi: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, ops[method]) for path, ops in openapi["paths"].items()
            for method in METHODS if method in ops]


def test_the_document_is_current(openapi: dict[str, Any]) -> None:
    text = DOC.read_text(encoding="utf-8")
    assert update(text, openapi) == text, "run: python -m controller.http.api_reference"


def test_every_endpoint_is_a_row_of_the_document(openapi: dict[str, Any]) -> None:
    text = DOC.read_text(encoding="utf-8")
    generated = text[text.index(BEGIN):text.index(END)]
    found = operations(openapi)
    assert len(found) > 40
    for method, path, _ in found:
        assert f"| `{method.upper()} {path}` |" in generated, (method, path)


def test_every_endpoint_but_the_public_ones_declares_its_role(openapi: dict[str, Any]) -> None:
    for method, path, operation in operations(openapi):
        roles = {role for requirement in operation.get("security", [])
                 for scopes in requirement.values() for role in scopes}
        if (method, path) in PUBLIC:
            assert not operation.get("security"), (method, path)
        else:
            assert len(roles) == 1 and roles <= ROLES, (method, path, roles)


def test_the_markers_are_replaced_not_repeated(openapi: dict[str, Any]) -> None:
    once = update(f"before\n{BEGIN}\nstale\n{END}\nafter\n", openapi)
    assert once.count(BEGIN) == once.count(END) == 1
    assert "stale" not in once and once.startswith("before\n") and once.endswith("after\n")
    assert update(once, openapi) == once
