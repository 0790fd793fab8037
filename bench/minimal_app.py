"""The yardstick for the site benchmarks: the least a Litestar app can do per request."""

from litestar import Litestar, get


@get("/", sync_to_thread=False)
def hello() -> str:
    return "hello"


def create_app() -> Litestar:
    return Litestar(route_handlers=[hello])
