"""The command's checks of a Dask scheduler's address, before anything is read."""

from __future__ import annotations

import socket
import threading

import pytest

from nmr_audit.errors import InputError
from nmr_audit.preflight import dask_scheduler


@pytest.fixture
def silent_listener():
    """A port that accepts connections and never replies (a web server waiting for a request
    line: Dask's handshake waited on it forever)."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    server.close()


def test_something_that_answers_but_not_as_a_scheduler_is_refused_in_one_line(silent_listener):
    with pytest.raises(InputError, match=r"no Dask scheduler answered there within 1 s .*tcp://host:8786"):
        dask_scheduler(silent_listener, seconds=1)


@pytest.mark.parametrize("address", [None, "local"])
def test_no_address_or_a_local_cluster_needs_no_check(address):
    dask_scheduler(address, seconds=0.1)


@pytest.mark.parametrize("address", ["tcp://127.0.0.1", "tcp://:8786", "127.0.0.1:8786", "inproc://x:1",
                                     "tcp://127.0.0.1:port"])
def test_an_address_without_scheme_host_and_port_is_refused(address):
    with pytest.raises(InputError, match="not a Dask scheduler's address"):
        dask_scheduler(address, seconds=0.1)
