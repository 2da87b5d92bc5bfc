from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.app import create_app
from gateway.problems import Problem
from gateway.realtime.poller import Poller, PollStatus
from gateway.settings import Settings
from gateway.urlguard import PublicResolver, check_public_url
from tests.conftest import ClientFactory, bearer

MakeKey = Callable[..., Awaitable[str]]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:6379/",
        "http://localhost/gtfs-rt",
        "http://10.1.2.3/feed.pb",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/feed.pb",
        "ftp://example.org/feed.pb",
    ],
)
async def test_private_and_odd_urls_are_refused(url: str) -> None:
    with pytest.raises(Problem) as err:
        await check_public_url(url, "trip_updates_url", allow_private=False)
    assert err.value.status == 422
    assert err.value.code == "url_not_allowed"
    assert "body.trip_updates_url" in str(err.value.detail)


async def test_public_addresses_pass() -> None:
    await check_public_url("https://1.1.1.1/feed.pb", "alerts_url", allow_private=False)


async def test_operator_cannot_point_polling_at_the_gateways_own_network(
    aiohttp_client: ClientFactory, settings: Settings, make_key: MakeKey
) -> None:
    strict = settings.model_copy(update={"allow_private_urls": False})
    client = await aiohttp_client(create_app(strict))
    admin = bearer(await make_key("admin"))
    operator = {"id": "ssrf-test-op", "name": "SSRF test"}
    assert (await client.post("/v1/operators", json=operator, headers=admin)).status in (201, 409)
    body = {"trip_updates_url": "http://127.0.0.1:6379/", "poll_interval_s": 5}
    resp = await client.put("/v1/operators/ssrf-test-op/realtime-sources", json=body, headers=admin)
    assert resp.status == 422
    assert (await resp.json(content_type=None))["code"] == "url_not_allowed"


async def test_a_host_that_now_resolves_privately_is_not_fetched(
    aiohttp_client: ClientFactory, aiohttp_server: Callable[..., Awaitable[TestServer]]
) -> None:
    # The feed URL passed its check once; its name now points inside (DNS rebinding).
    hits: list[str] = []

    async def feed(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(body=b"")

    app = web.Application()
    app.router.add_get("/feed.pb", feed)
    server = await aiohttp_server(app)
    url = f"http://localhost:{server.port}/feed.pb"
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(resolver=PublicResolver())
    ) as public:
        status = PollStatus(url=url, interval_s=5)
        poller = Poller(None, public, ingest=None, lease=None)  # type: ignore[arg-type]
        await poller.poll_once("op", "trip-updates", status)
    assert hits == []
    assert status.failures == 1
    assert "non-public" in (status.last_error or "")
    async with aiohttp.ClientSession() as anywhere:  # the same URL, without the guard
        assert (await anywhere.get(url)).status == 200
    assert hits == ["/feed.pb"]
