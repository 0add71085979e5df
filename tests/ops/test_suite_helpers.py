"""The test suite's own tools: local HTTP servers that never print on stderr, and the
random order FONCIER_TEST_SHUFFLE asks for."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer

import httpx
import pytest

from tests.helpers.order import seed_from_env, shuffled_by_module
from tests.helpers.servers import QuietHandler, QuietHTTPServer


class Failing(QuietHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        raise ConnectionResetError("the client went away")


def fail_once(base: str) -> None:
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{base}/", timeout=5)


def test_a_failed_request_is_recorded_not_printed(capfd: pytest.CaptureFixture[str]) -> None:
    server = QuietHTTPServer(Failing).start()
    try:
        fail_once(f"http://127.0.0.1:{server.port}")
    finally:
        server.stop()
    assert len(server.errors) == 1 and "the client went away" in server.errors[0]
    assert capfd.readouterr().err == ""


def test_socketservers_own_way_prints_into_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    """What the quiet server is for: socketserver's default prints the traceback on stderr
    (where it ended in a CLI test's output)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        fail_once(f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
    assert "Exception occurred during processing of request" in capfd.readouterr().err


ITEMS = [f"{module}::{n}" for module in ("a", "b", "c", "d") for n in range(5)]


def module_of(item: str) -> str:
    return item.split("::")[0]


def test_the_order_is_a_permutation_with_each_module_together() -> None:
    order = shuffled_by_module(ITEMS, module_of, 7)
    assert sorted(order) == sorted(ITEMS) and order != ITEMS
    modules = [module_of(item) for item in order]
    runs = [m for i, m in enumerate(modules) if i == 0 or modules[i - 1] != m]
    assert sorted(runs) == ["a", "b", "c", "d"]  # each module in one run


def test_a_seed_replays_its_order() -> None:
    assert shuffled_by_module(ITEMS, module_of, 7) == shuffled_by_module(ITEMS, module_of, 7)
    assert shuffled_by_module(ITEMS, module_of, 7) != shuffled_by_module(ITEMS, module_of, 8)


def test_the_seed_from_the_environment() -> None:
    assert seed_from_env({}) is None
    assert seed_from_env({"FONCIER_TEST_SHUFFLE": ""}) is None
    assert seed_from_env({"FONCIER_TEST_SHUFFLE": "42"}) == 42
    assert isinstance(seed_from_env({"FONCIER_TEST_SHUFFLE": "random"}), int)
    with pytest.raises(ValueError, match="integer seed or 'random'"):
        seed_from_env({"FONCIER_TEST_SHUFFLE": "yes"})
