"""``GET /media/{token}``: what field nodes fetch, offered on the runtime's one media shelf
(node zones' audio and firmware images alike), without a token, and nothing else."""

from __future__ import annotations

from pathlib import Path

import httpx

from controller.runtime import Runtime

ROOT = "http://testserver"  # outside /api/v1, where the client's base URL points


async def test_an_offered_file_is_served_and_withdrawn_one_is_not(
        api_runtime: Runtime, api_client: httpx.AsyncClient, tmp_path: Path) -> None:
    image = tmp_path / "node-1.4.2.bin"
    image.write_bytes(b"\x7fELF firmware bytes")
    token = api_runtime.media_shelf.offer(image)

    served = await api_client.get(f"{ROOT}/media/{token}.bin")
    assert (served.status_code, served.content) == (200, image.read_bytes())
    assert served.headers["content-type"] == "application/octet-stream"

    api_runtime.media_shelf.withdraw([token])
    gone = await api_client.get(f"{ROOT}/media/{token}.bin")
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "not_found"


async def test_a_token_never_offered_is_not_found(api_client: httpx.AsyncClient) -> None:
    answer = await api_client.get(f"{ROOT}/media/not-a-token.wav")
    assert answer.status_code == 404
    assert answer.json()["error"]["message"] == "no media 'not-a-token'"
    assert answer.json()["error"]["code"] == "not_found"
