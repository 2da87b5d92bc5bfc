import uvloop

from gateway.cli.main import new_event_loop


def test_serve_runs_on_uvloop() -> None:
    loop = new_event_loop()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()
