"""Dask distributed as an executor: a LocalCluster of two worker processes on the
loopback interface, shared by the module (starting one takes seconds)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest

distributed = pytest.importorskip(
    "distributed", reason="dask[distributed] is not installed (pip install 'flowtrace[dask]')"
)

from _events import Collector  # noqa: E402

from flowtrace import FlowHDL, node, sleep  # noqa: E402
from flowtrace.events import OffloadFinished, OffloadStarted, OffloadSubmitted  # noqa: E402
from flowtrace.offload import OffloadLostError, RemoteTraceback  # noqa: E402

from .offload_workloads import Fails, Nap, Spin  # noqa: E402


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=50,
    )
    dask_client = distributed.Client(cluster, set_as_default=False)
    try:
        yield dask_client
    finally:
        dask_client.close()
        cluster.close()


def _four_naps() -> Any:
    with FlowHDL() as f:
        f.a = Nap(0.3)
        f.b = Nap(0.3)
        f.c = Nap(0.3)
        f.d = Nap(0.3)
    return f


def test_a_local_cluster_runs_the_flow_with_the_same_results_and_names_both_workers(
    client: Any,
    pool: ProcessPoolExecutor,
) -> None:
    results = []
    for executor in (pool, client):
        with FlowHDL() as f:
            f.x = Spin(1000)
            f.y = Spin(2000)
        f.run_until_complete(executors=executor)
        results.append((f.x.get_data(), f.y.get_data()))
    assert results[0] == results[1]

    f = _four_naps()
    events = Collector([OffloadSubmitted, OffloadStarted, OffloadFinished])
    f.run_until_complete(executors=client, instruments=[events])
    assert [e.executor_kind.split()[0] for e in events.of(OffloadSubmitted)] == ["dask"] * 4
    workers = {e.worker for e in events.of(OffloadStarted)}
    assert workers == set(client.scheduler_info()["workers"])  # both, by address
    assert all(w.startswith("tcp://127.0.0.1:") for w in workers)
    assert [e.outcome for e in events.of(OffloadFinished)] == ["returned"] * 4


def test_a_dask_scheduler_address_is_connected_for_the_run(client: Any) -> None:
    address = client.scheduler.address
    with FlowHDL() as f:
        f.x = Spin(100)
    events = Collector([OffloadSubmitted, OffloadFinished])
    f.run_until_complete(executors={"default": address}, instruments=[events])
    assert f.x.get_data() == (sum(i % 7 for i in range(100)),)
    assert events.of(OffloadSubmitted)[0].executor_kind == f"dask {address}"
    assert events.of(OffloadFinished)[0].outcome == "returned"


def test_a_remote_exception_from_dask_arrives_as_its_type(client: Any) -> None:
    with FlowHDL() as f:
        f.bad = Fails("on dask")
    with pytest.raises(ValueError, match="on dask") as info:
        f.run_until_complete(executors=client)
    cause = info.value.__cause__
    assert isinstance(cause, RemoteTraceback) and "Traceback on tcp://127.0.0.1:" in cause.text


def test_an_unreachable_scheduler_fails_the_node_naming_the_executor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import flowtrace.engine.offload as engine_offload

    monkeypatch.setattr(engine_offload, "DASK_CONNECT_TIMEOUT", 1.0)
    with FlowHDL() as f:
        f.x = Spin(10)
    events = Collector([OffloadFinished])
    with pytest.raises(OffloadLostError) as info:
        f.run_until_complete(executors={"default": "tcp://127.0.0.1:9"}, instruments=[events])
    text = str(info.value)
    assert info.value.executor == "default"
    assert "executor 'default' (dask tcp://127.0.0.1:9)" in text
    assert "cannot connect to the Dask scheduler at tcp://127.0.0.1:9" in text
    assert [e.outcome for e in events.of(OffloadFinished)] == ["lost"]


def test_a_run_abort_cancels_pending_dask_work(client: Any) -> None:
    @node
    async def Boom(x: int) -> None:
        await sleep(0.1)
        raise KeyError("abort")

    with FlowHDL() as f:
        f.a = Nap(0.8)
        f.b = Nap(0.8)
        f.c = Nap(0.8)
        f.boom = Boom(0)
    events = Collector([OffloadFinished])
    with pytest.raises(KeyError):
        f.run_until_complete(executors=client, instruments=[events])
    assert [e.outcome for e in events.of(OffloadFinished)] == ["cancelled"] * 3
