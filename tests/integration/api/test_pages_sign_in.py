"""Sign-in, sessions and CSRF for the pages, over HTTP (the browser tests drive the rest)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from issuance.api.app import create_app
from issuance.cli.agent import DEMO_OUTLET, demo_accounts, demo_sign_in_link
from issuance.domain.roles import Role
from issuance.runtime import Runtime
from issuance.services import admin, credentials, signin
from issuance.store.pages import PagesStore
from tests.pages_support import new_bank

PASSWORD = "a long enough password"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
async def client(rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    store = rt.store
    await new_bank(store, "PGB", "页面测试银行")
    await admin.create_outlet(store, admin.OutletInput("pg-1", "PGB", "页面网点"))
    await admin.create_operator(store, "pg-clerk", Role.CLERK, bank="PGB", outlet="pg-1")
    await admin.create_operator(store, "pg-agent", Role.AGENT, bank="PGB", outlet="pg-1")
    await credentials.set_password_named(rt.store, "pg-clerk", PASSWORD)
    transport = httpx.ASGITransport(app=create_app(rt))
    async with httpx.AsyncClient(transport=transport, base_url="http://sscard.test") as http:
        yield http


async def _token(http: httpx.AsyncClient, path: str) -> str:
    response = await http.get(path)
    found = CSRF.search(response.text)
    assert found, response.text[:300]
    return found[1]


async def _sign_in(http: httpx.AsyncClient, password: str = PASSWORD) -> httpx.Response:
    token = await _token(http, "/signin")
    form = {"csrf": token, "name": "pg-clerk", "password": password}
    return await http.post("/signin", data=form)


async def test_a_session_cookie_is_httponly_and_strict(client: httpx.AsyncClient) -> None:
    response = await _sign_in(client)
    assert response.status_code == 303 and response.headers["location"] == "/counter"
    cookie = next(c for c in response.headers.get_list("set-cookie") if "sscard_session" in c)
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # served over http here; over https it is Secure
    assert (await client.get("/counter")).status_code == 200


async def test_a_wrong_password_is_refused(client: httpx.AsyncClient) -> None:
    response = await _sign_in(client, "not the password")
    assert response.status_code == 401 and "用户名或密码错误" in response.text
    assert (await client.get("/counter")).status_code == 303


async def test_a_form_without_its_csrf_token_is_refused(client: httpx.AsyncClient) -> None:
    await _sign_in(client)
    response = await client.post("/counter/lookup", data={"lookup_citizen_id": "1"})
    assert response.status_code == 403 and "安全令牌" in response.text
    wrong = await client.post("/counter/lookup", data={"csrf": "x" * 43})
    assert wrong.status_code == 403
    anonymous = httpx.AsyncClient(transport=client._transport, base_url="http://sscard.test")
    async with anonymous:
        assert (await anonymous.post("/signin", data={"name": "pg-clerk"})).status_code == 403


async def test_sign_out_ends_the_session(client: httpx.AsyncClient) -> None:
    await _sign_in(client)
    token = await _token(client, "/counter")
    response = await client.post("/signout", data={"csrf": token})
    assert response.status_code == 303
    assert (await client.get("/counter")).status_code == 303


async def test_an_expired_session_is_over(client: httpx.AsyncClient, rt: Runtime) -> None:
    await _sign_in(client)
    await rt.pool.execute("UPDATE web_sessions SET seen_at = now() - interval '31 minutes'")
    response = await client.get("/counter")
    assert response.status_code == 303 and response.headers["location"].startswith("/signin")


async def test_a_sign_in_link_works_once(client: httpx.AsyncClient, rt: Runtime) -> None:
    link = await signin.sign_in_link(PagesStore(rt.pool), "pg-clerk")
    token = await _token(client, f"/signin/link/{link}")
    first = await client.post(f"/signin/link/{link}", data={"csrf": token})
    assert first.status_code == 303 and first.headers["location"] == "/counter"
    client.cookies.clear()
    token = await _token(client, f"/signin/link/{link}")
    again = await client.post(f"/signin/link/{link}", data={"csrf": token})
    assert again.status_code == 401 and "已使用" in again.text


async def test_the_sign_in_is_audited_and_leaves_no_bearer_token(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    await _sign_in(client)
    live = await rt.pool.fetchval(
        "SELECT count(*) FROM operator_tokens t JOIN operators o ON o.id = t.operator "
        "WHERE o.name = 'pg-clerk' AND t.revoked_at IS NULL AND t.via = 'sign_in'"
    )
    assert live == 0


async def test_docs_load_nothing_from_elsewhere(client: httpx.AsyncClient) -> None:
    for path in ("/docs", "/redoc"):
        page = (await client.get(path)).text
        assert "https://" not in page and "/static/vendor/" in page
    assert (await client.get("/static/vendor/swagger-ui-bundle.js")).status_code == 200
    assert (await client.get("/static/vendor/htmx.min.js")).status_code == 200


async def test_a_form_too_long_is_refused_before_it_is_read(client: httpx.AsyncClient) -> None:
    await _sign_in(client)
    token = await _token(client, "/counter")
    body = {"csrf": token, "photo": "A" * (5 * 1024 * 1024)}
    response = await client.post("/counter/apply", data=body)
    assert response.status_code == 413  # by the page, or by the HTTP layer's own door first


async def test_the_demo_signs_its_clerk_in_with_a_link(rt: Runtime, tmp_path: Path) -> None:
    tokens = await demo_accounts(rt.store, tmp_path / "tokens.json")
    link = await demo_sign_in_link(rt, tokens, "http://127.0.0.1:8080")
    assert link.startswith("http://127.0.0.1:8080/signin/link/")
    made = await signin.sign_in_with_link(PagesStore(rt.pool), link.rsplit("/", 1)[1])
    assert made.operator.role is Role.CLERK and made.operator.outlet == DEMO_OUTLET


async def test_over_https_the_session_cookie_is_secure(client: httpx.AsyncClient) -> None:
    transport = client._transport
    async with httpx.AsyncClient(transport=transport, base_url="https://sscard.test") as https:
        response = await _sign_in(https)
    cookie = next(c for c in response.headers.get_list("set-cookie") if "sscard_session" in c)
    assert "Secure" in cookie and "HttpOnly" in cookie


async def test_the_bureau_page_is_for_the_bureau(client: httpx.AsyncClient) -> None:
    await _sign_in(client)
    response = await client.get("/bureau")
    assert response.status_code == 403 and "操作被拒绝" in response.text
