"""``node.py`` and ``offload.py`` split by job keep their contracts: the names other code
imports from ``flowtrace.engine.node`` and ``flowtrace.engine.offload`` are still there,
traces name their errors as before the split, and the documented Dask connection knob
still takes effect where the documentation says to set it.
"""

from __future__ import annotations

import importlib
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from _loop_support import Collector

from flowtrace import FlowHDL, MissingDefaultError, node
from flowtrace.events import FlowFinished
from flowtrace.offload import UnpicklableValueError, offload

PUBLIC = {
    "flowtrace.engine.node": "MissingDefaultError NodePlaceholder OutputPortRefPlaceholder "
    "DraftOutputPortRef DraftInputPortRef DraftInputPort DraftNode DraftGroupNode Constant "
    "FinalizedNode FinalizedInputPort FinalizedOutputPortRef FinalizedInputPortRef DataStore "
    "NodeData OriginalCall SuperNode Some Nothing node",
    "flowtrace.engine.offload": "DEFAULT_EXECUTOR OffloadError OffloadLostError RemoteError "
    "RemoteTraceback UnpicklableValueError OffloadSession offload offload_to offload_body",
}
#: Names outside ``__all__`` that hdl.py, flow.py, flow_run.py and flowtrace.offload import.
INTERNAL = {
    "flowtrace.engine.node": "_NO_DEFAULT _context_stack _new_twin _port_spec",
    "flowtrace.engine.offload": "normalize_executors OffloadWait DASK_CONNECT_TIMEOUT",
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_the_names_other_code_imports_are_still_there(module: str) -> None:
    mod = importlib.import_module(module)
    assert sorted(mod.__all__) == sorted(PUBLIC[module].split())
    for name in PUBLIC[module].split() + INTERNAL[module].split():
        assert getattr(mod, name) is not None, name


def test_traces_name_a_missing_default_as_before() -> None:
    @node
    async def Count(x: int) -> int:
        return x + 1

    with FlowHDL() as f:
        f.count = Count(f.count)
    rec = Collector([FlowFinished])
    with pytest.raises(MissingDefaultError):
        f.run_until_complete(instruments=[rec])
    (finished,) = rec.of(FlowFinished)
    assert finished.error is not None
    assert finished.error.type == "flowtrace.engine.node.MissingDefaultError"


def test_traces_name_an_offload_error_as_before() -> None:
    @node
    async def Send(x: int = 0) -> int:
        return int(await offload(len, [threading.Lock()]))

    with FlowHDL() as f:
        f.send = Send()
    rec = Collector([FlowFinished])
    with ThreadPoolExecutor(1) as pool, pytest.raises(UnpicklableValueError):
        f.run_until_complete(executors=pool, instruments=[rec])
    (finished,) = rec.of(FlowFinished)
    assert finished.error is not None
    assert finished.error.type == "flowtrace.engine.offload.UnpicklableValueError"


def test_the_dask_connect_timeout_is_read_where_the_guide_says_to_set_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import flowtrace.engine.offload as engine_offload
    from flowtrace.engine.offload_executors import _connect_timeout

    monkeypatch.setattr(engine_offload, "DASK_CONNECT_TIMEOUT", 1.5)
    assert _connect_timeout() == 1.5
