from collections.abc import Awaitable, Callable

import pytest

from gateway.app import create_app
from gateway.problems import Problem
from gateway.settings import Settings
from gateway.urlguard import check_public_url
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
