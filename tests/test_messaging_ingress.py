"""The messaging side's ingress choices (issue 14): the broker's websocket listener and leaf
node servers at the edge, against edge clients on the client port (``kind: none``).

* websocket: more broker CPU per message (framing), an HTTP upgrade when each connection
  opens, one-way TLS from the browsers;
* leafnode: one more server on the way (latency up by about a same-zone round trip and the
  leaf's I/O), the cluster holds one connection per leaf instead of one per edge client, the
  leaves' cores and memory count as infrastructure;
* both appear in the fairness ledger and vanish in the zero-overhead identity;
* the real nats-server: a websocket listener refuses to start without TLS, and a request
  crosses a leaf node (with no responder anywhere the leaf answers 503 at once).
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import sim
from sim.api import override
from sim.messaging.websocket import WsConn
from sim.report.ledger import build_ledger
from sim.scenario.loader import ScenarioError
from sim.scenario.overheads import zero_overheads
from tests.helpers import ROOT, requests_of
from tests.natsserver import HOST, NatsServer, RawClient, free_port, wait_until
from tests.worlds import world

MINIMAL = str(ROOT / "scenarios" / "order-service-minimal.yaml")
SETS = ["run.duration=4s", "run.warmup=1s", "workload.clients=16"]


def _run(kind: str, *more: str) -> sim.RunResult:
    sc = sim.load_scenario(MINIMAL, [*SETS, f"messaging.ingress.kind={kind}", *more])
    return sim.simulate(sc, "messaging", seed=1)


def _kind(r: sim.RunResult, kind: str) -> sim.RunResult:
    return r.components[r.components["kind"] == kind]


def _book(r: sim.RunResult, metric: str, scope: str | None = None) -> float:
    t = r.transport
    t = t[t["metric"] == metric]
    if scope is not None:
        t = t[t["scope"] == scope]
    return float(t["value"].sum())


@pytest.fixture(scope="module")
def runs() -> dict[str, sim.RunResult]:
    return {k: _run(k) for k in ("none", "websocket", "leafnode")}


def test_websocket_frames_cost_broker_cpu(runs: dict[str, sim.RunResult]) -> None:
    plain, ws = runs["none"], runs["websocket"]
    cpu = {k: _kind(r, "broker")["cpu_seconds"].sum() for k, r in (("p", plain), ("w", ws))}
    assert cpu["w"] > cpu["p"]
    assert _book(ws, "websocket_seconds") > 0 and _book(plain, "websocket_seconds") == 0
    # the same long-lived connections otherwise
    conns = {k: _kind(r, "broker")["connections_open_end"].sum() for k, r in runs.items()}
    assert conns["websocket"] == conns["none"]
    # a costlier frame: what the framing books is what the broker's cores spent more (give or
    # take the wake-ups that bigger batches save)
    dear = _run("websocket", "messaging.ingress.websocket.per_message=20us")
    extra = _kind(dear, "broker")["cpu_seconds"].sum() - cpu["p"]
    assert extra == pytest.approx(_book(dear, "websocket_seconds"), rel=0.2)


def test_websocket_upgrade_is_one_round_trip_and_the_servers_work() -> None:
    sc = sim.load_scenario(
        MINIMAL,
        [
            *SETS,
            "messaging.ingress.kind=websocket",
            "messaging.ingress.websocket.upgrade_cpu=1ms",
        ],
    )
    ws = world(sc, "messaging").run(0.5)
    plain = world(override(sc, ["messaging.ingress.kind=none"]), "messaging").run(0.5)
    assert all(isinstance(c, WsConn) for c in ws.t.edge)
    assert not any(isinstance(c, WsConn) for c in plain.t.edge)
    rtt = sc.placement.network.same_zone_rtt
    for i in range(16):  # each browser: one more round trip and the upgrade's work at least
        a, b = ws.t.edge[i].connected_at[0][0], plain.t.edge[i].connected_at[0][0]
        assert a - b >= rtt + 1e-3 - 1e-9
    books = ws.t.server.book
    assert books.tallies[("server", "nats-0", "websocket_upgrades")].value == 16
    # browsers present no client certificate: 16 fewer mutual handshakes on the server
    assert plain.t.server.handshakes_mtls - ws.t.server.handshakes_mtls == 16
    assert plain.t.server.handshakes_tls == ws.t.server.handshakes_tls


def test_leafnode_adds_a_hop_and_the_leaves_hold_the_edge(runs: dict[str, sim.RunResult]) -> None:
    plain, leaf = runs["none"], runs["leafnode"]
    leaves = _kind(leaf, "leafnode")
    assert list(leaves["name"]) == ["leafnode-0", "leafnode-1"]
    assert (leaves["cpu_seconds"] > 0).all() and (leaves["memory_mean"] >= 14.5 * 2**20).all()
    # the cluster holds one leafnode connection per leaf instead of 16 edge connections
    conns = {k: _kind(r, "broker")["connections_open_end"].sum() for k, r in runs.items()}
    assert conns["none"] - conns["leafnode"] == 16 - 2
    # the leaves hold the 16 edge connections and their one leafnode connection each
    assert leaves["connections_open_end"].sum() == 16 + 2
    assert _book(leaf, "messages", "leafnode") > 0  # LMSGs on the leafnode connections
    # every request answered, one more server on the way: about a same-zone round trip
    # (client → leaf and leaf → hub instead of client → server) plus the leaf's reads and writes
    r = {k: requests_of(x) for k, x in (("p", plain), ("l", leaf))}
    assert (r["l"]["status"] == "ok").all()
    # the same arrivals in both (a request in flight when the run ends is in neither's rows)
    cut = min(x["start"].max() for x in r.values()) - 0.05
    assert (r["l"]["start"] <= cut).sum() == (r["p"]["start"] <= cut).sum() > 500
    rtt = sim.load_scenario(MINIMAL).placement.network.same_zone_rtt
    dp50 = r["l"]["latency"].median() - r["p"]["latency"].median()
    assert rtt * 0.6 < dp50 < rtt + 0.5e-3


def test_leafnode_infrastructure_is_counted() -> None:
    one, three = (
        _kind(_run("leafnode", f"messaging.ingress.replicas={n}"), "leafnode") for n in (1, 3)
    )
    assert len(one) == 1 and len(three) == 3
    assert three["memory_mean"].sum() > 2.5 * one["memory_mean"].sum()


def test_the_ledger_names_the_ingress() -> None:
    base = sim.load_scenario(MINIMAL)

    def cells(kind: str) -> dict[str, tuple[str, str]]:
        sc = override(base, [f"messaging.ingress.kind={kind}"])
        return {f"{r.topic}: {r.item}": (r.http, r.messaging) for r in build_ledger(sc).rows}

    none, ws, leaf = cells("none"), cells("websocket"), cells("leafnode")
    assert none["replicas: entry point"][1] == "clients connect to a server"
    assert "websocket listener" in ws["replicas: entry point"][1]
    assert "server-authenticated" in ws["TLS: edge"][1]
    assert ws["I/O cost: websocket framing"][0] == "–"
    assert "I/O cost: websocket framing" not in none
    assert leaf["replicas: entry point"][1].startswith("2 leaf node server(s)")
    assert "TLS: leafnode connections" in leaf and "TLS: leafnode connections" not in none


@pytest.mark.parametrize("kind", ["websocket", "leafnode"])
def test_zero_overhead_identity_holds_with_each_ingress(kind: str) -> None:
    sc = sim.load_scenario(MINIMAL, [f"messaging.ingress.kind={kind}"])
    assert zero_overheads(sc).messaging.ingress.kind == "none"
    sc = override(zero_overheads(sc), ["run.duration=2", "run.warmup=0.5", "run.rows=all"])
    h, m = sim.simulate(sc, "http", seed=5), sim.simulate(sc, "messaging", seed=5)
    hr, mr = (x.requests[x.requests["kind"] == "request"].sort_values("request_id") for x in (h, m))
    assert len(hr) > 20
    np.testing.assert_array_equal(hr["latency"].to_numpy(), mr["latency"].to_numpy())


def test_bad_ingress_input_is_refused_with_its_place() -> None:
    base = sim.load_scenario(MINIMAL)
    with pytest.raises(ScenarioError, match=r"messaging\.ingress\.kind"):
        override(base, ["messaging.ingress.kind=quic"])
    with pytest.raises(ScenarioError, match=r"per_message"):
        override(base, ["messaging.ingress.websocket.per_message=-1us"])
    accounts = ROOT / "scenarios" / "messaging-accounts.yaml"
    with pytest.raises(ScenarioError, match="leaf nodes with account imports"):
        sim.load_scenario(accounts, ["messaging.ingress.kind=leafnode"])


# ---------------------------------------------------------------- the real nats-server


@pytest.mark.nats
def test_real_websocket_listener_requires_tls(
    nats_server_bin: Path, tmp_path: Path, nats_server: Callable[..., NatsServer]
) -> None:
    conf = tmp_path / "bare.conf"
    conf.write_text(
        f'listen: "{HOST}:{free_port()}"\nwebsocket {{ listen: "{HOST}:{free_port()}" }}\n'
    )
    res = subprocess.run(
        [str(nats_server_bin), "-c", str(conf)], capture_output=True, text=True, timeout=20
    )
    assert res.returncode != 0 and "websocket requires TLS" in res.stdout + res.stderr
    port = free_port()
    nats_server(f'websocket {{\n  listen: "{HOST}:{port}"\n  no_tls: true\n}}\n')
    with socket.create_connection((HOST, port), timeout=5) as s:
        s.sendall(
            f"GET / HTTP/1.1\r\nHost: {HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        assert s.recv(4096).startswith(b"HTTP/1.1 101")  # one round trip: the upgrade


@pytest.mark.nats
def test_real_request_crosses_a_leaf_node(
    nats_server: Callable[..., NatsServer],
) -> None:
    lport = free_port()
    hub = nats_server(f'leafnodes {{\n  listen: "{HOST}:{lport}"\n}}\n', name="hub")
    leaf = nats_server(
        f'leafnodes {{\n  remotes: [{{url: "nats-leaf://{HOST}:{lport}"}}]\n}}\n', name="leaf"
    )
    wait_until(lambda: hub.monitor("leafz").get("leafnodes") == 1, what="leafnode connection")
    browser = RawClient(leaf.port, verbose=False)
    browser.sub("_INBOX.edge.*", 1)
    # nobody serves svc anywhere: the leaf answers no responders at once
    browser.pub("svc", b"hi", reply="_INBOX.edge.1")
    got = browser.messages(wait=0.2)
    assert len(got) == 1 and got[0].kind == "HMSG" and b"503" in got[0].headers
    service = RawClient(hub.port, verbose=False)
    service.sub("svc", 1, queue="q")
    service.sync()
    # the hub tells the leaf of the queue group (LS+), then the request crosses
    deadline = time.monotonic() + 5
    answered = []
    while not answered and time.monotonic() < deadline:
        browser.pub("svc", b"hi", reply="_INBOX.edge.2")
        for f in service.messages(wait=0.1):
            service.pub(f.reply or "", b"ok")
        service.sync()
        answered = [f for f in browser.messages(wait=0.1) if f.payload == b"ok"]
    assert answered and answered[0].subject == "_INBOX.edge.2"
    # the hub holds the service's connection and the leaf's, not the browser's
    assert hub.monitor("varz")["connections"] == 1 and hub.monitor("varz")["leafnodes"] == 1
