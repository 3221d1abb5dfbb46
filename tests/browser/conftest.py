"""Pages in a real browser: Playwright driving Debian's ``chromium``.

The service runs in this process (uvicorn on a loopback port) over the test
database, with the demo bank, its instant outlet and its clerk and agent, a
supervisor, a bank administrator, a bureau auditor and a bureau administrator, each with
a password.
Chromium is the system's (``/usr/bin/chromium``, installed by
``scripts/check.sh``); Playwright never downloads a browser. Each test saves
a screenshot of its page into ``docs/screenshots`` for the README.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest
import uvicorn
from playwright.async_api import Page, async_playwright, expect

from issuance.api.app import create_app
from issuance.cli.agent import DEMO_BANK, DEMO_OUTLET, demo_accounts
from issuance.config import Settings
from issuance.domain.roles import Role
from issuance.runtime import Runtime
from issuance.services import admin, credentials
from printers.agent.client import AgentClient
from printers.agent.journal import Journal
from printers.agent.loop import Agent, AgentConfig
from printers.agent.station import Station, open_printer
from printers.devices.simulators.evolis import SimConfig
from printers.devices.simulators.outlet import SimulatedOutlet

CHROMIUM = Path(os.environ.get("SSCARD_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]  # fmt: skip
HAVE_CHROMIUM = CHROMIUM.exists()
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "correct horse battery"
VIEWPORT = {"width": 1366, "height": 768}
HANG = 60_000  # ms: bounds a hang, never paces a test
expect.set_options(timeout=HANG)


@dataclass(frozen=True)
class Site:
    rt: Runtime
    url: str
    agent_token: str
    names: dict[Role, str]
    totp: dict[Role, str]  # the TOTP secrets of the roles that sign in with a second factor
    tmp: Path


async def _people(rt: Runtime, tmp: Path) -> tuple[str, dict[Role, str], dict[Role, str]]:
    store = rt.store
    tokens = await demo_accounts(store, tmp / "tokens.json")
    clerk = await store.operator_by_token(tokens.clerk)
    assert clerk is not None
    sup = await admin.create_operator(
        store, "demo-supervisor", Role.SUPERVISOR, bank=DEMO_BANK, outlet=DEMO_OUTLET
    )
    bank_admin = await admin.create_operator(store, "demo-admin", Role.BANK_ADMIN, bank=DEMO_BANK)
    bureau = await admin.create_operator(store, "bureau-auditor", Role.BUREAU_AUDITOR)
    decider = await admin.create_operator(store, "bureau-admin", Role.BUREAU_ADMIN)
    names = {Role.CLERK: clerk.name, Role.SUPERVISOR: sup.name,
             Role.BANK_ADMIN: bank_admin.name, Role.BUREAU_AUDITOR: bureau.name,
             Role.BUREAU_ADMIN: decider.name}  # fmt: skip
    for name in names.values():
        await credentials.set_password_named(rt.store, name, PASSWORD)
    secrets = {}
    for role in rt.settings.credentials.second_factor_roles & names.keys():
        secrets[role] = (await credentials.enrol_totp_named(rt.store, names[role])).secret
    return tokens.agent, names, secrets


@pytest.fixture
async def site(db_dsn: str, tmp_path: Path) -> AsyncIterator[Site]:
    if not HAVE_CHROMIUM:
        pytest.skip(f"no browser at {CHROMIUM} (scripts/check.sh installs Debian's chromium)")
    settings = Settings(database_url=db_dsn, data_dir=tmp_path / "var", host="127.0.0.1", port=0)
    async with Runtime(settings) as rt:
        agent_token, names, totp = await _people(rt, tmp_path)
        config = uvicorn.Config(
            create_app(rt), host="127.0.0.1", port=0, loop="none", log_level="warning"
        )
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        for _ in range(1000):
            if server.started or serving.done():
                break
            await asyncio.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        try:
            yield Site(rt, f"http://127.0.0.1:{port}", agent_token, names, totp, tmp_path)
        finally:
            server.should_exit = True
            await serving


@pytest.fixture
async def outlet(site: Site) -> AsyncIterator[SimulatedOutlet]:
    """The demo's simulated outlet (two printers) and its agent, as ``sscard demo`` runs them."""
    async with SimulatedOutlet(site.tmp / "outlet", config=SimConfig(time_scale=0.0)) as sim:
        with Journal(site.tmp / "journal.sqlite") as journal:
            stations = [
                Station(n, await open_printer(sim.printer_url(n)), sim.reader(n), sim.psam,
                        journal)
                for n in sim.names
            ]  # fmt: skip
            client = AgentClient(
                site.url, site.agent_token, worker="pages", site=DEMO_OUTLET, psam=sim.psam.serial
            )
            agent = asyncio.create_task(
                Agent(client, stations, journal, AgentConfig(wait_seconds=1)).run()
            )
            try:
                yield sim
            finally:
                agent.cancel()
                await asyncio.gather(agent, return_exceptions=True)
                await client.aclose()
                for station in stations:
                    await station.printer.aclose()


# A camera for getUserMedia: Chromium's own test pattern, allowed without a prompt.
FAKE_CAMERA_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


@pytest.fixture
async def page(site: Site, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    camera = request.node.get_closest_marker("camera") is not None
    args = CHROMIUM_ARGS + (FAKE_CAMERA_ARGS if camera else [])
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=args)
        context = await browser.new_context(viewport=VIEWPORT, locale="zh-CN")
        context.set_default_timeout(HANG)
        tab = await context.new_page()
        try:
            yield tab
        finally:
            await context.close()
            await browser.close()


async def sign_in(p: Page, site: Site, role: Role) -> None:
    await p.goto(f"{site.url}/signin")
    await p.get_by_label("用户名").fill(site.names[role])
    await p.get_by_label("密码").fill(PASSWORD)
    if role in site.totp:
        await p.get_by_label("动态口令（主管和人社局账号必填）").fill(
            pyotp.TOTP(site.totp[role]).now()
        )
    await p.get_by_role("button", name="登录").click()
    await expect(p.get_by_role("button", name="退出登录")).to_be_visible()


async def screenshot(p: Page, name: str, *, full: bool = False) -> None:
    """The page as the README shows it (fonts loaded first)."""
    await p.evaluate("document.fonts.ready.then(() => true)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await p.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full)
