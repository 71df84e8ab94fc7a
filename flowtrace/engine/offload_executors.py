"""The executors of a run: naming and checking them (``executors=``), and one backend
per kind — a :class:`concurrent.futures.Executor`, a ``dask.distributed.Client``, or a
Dask scheduler address connected on first use — that submits a call, cancels it and
closes at the end of the run.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from flowtrace.engine.remote import run_call

if TYPE_CHECKING:
    from flowtrace.engine.offload_session import OffloadSession

#: The executor name ``offload()`` and ``@node(offload=True)`` use.
DEFAULT_EXECUTOR = "default"
#: How long closing a Dask client flowtrace opened may take at the end of a run.
_DASK_CLOSE_TIMEOUT = 5.0


def _connect_timeout() -> float:
    """How long connecting to a Dask scheduler may take: the knob docs/offload.md names,
    ``flowtrace.engine.offload.DASK_CONNECT_TIMEOUT``, read there when a connection
    starts, so that setting it there takes effect."""
    from flowtrace.engine import offload  # the API module imports this one

    return float(offload.DASK_CONNECT_TIMEOUT)


def _is_dask_client(value: object) -> bool:
    kind = type(value)
    return (
        kind.__module__.split(".")[0] == "distributed"
        and hasattr(value, "submit")
        and (hasattr(value, "cancel"))
    )


def _check_executor(name: str, value: object) -> None:
    if isinstance(value, cf.Executor) or _is_dask_client(value):
        return
    if isinstance(value, str) and "://" in value:
        return
    raise TypeError(
        f"executors[{name!r}] must be a concurrent.futures.Executor, a "
        "dask.distributed.Client or a Dask scheduler address ('tcp://host:8786'), not "
        f"{type(value).__name__} {value!r}"
    )


def normalize_executors(executors: Any) -> dict[str, Any]:
    """``executors=`` as a name → executor dict (one executor alone is ``default``);
    TypeError for anything that is not an executor."""
    if executors is None:
        return {}
    if isinstance(executors, Mapping):
        out: dict[str, Any] = {}
        for name, value in executors.items():
            if not isinstance(name, str):
                raise TypeError(f"executor names must be strings, not {name!r}")
            _check_executor(name, value)
            out[name] = value
        return out
    _check_executor(DEFAULT_EXECUTOR, executors)
    return {DEFAULT_EXECUTOR: executors}


class _Backend:
    """One executor of a run, as the session uses it."""

    #: Whether functions of ``__main__`` must travel by value (remote interpreters).
    by_value = False
    #: The run's session that uses it (set by ``OffloadSession.backend``).
    session: OffloadSession

    def __init__(self, name: str, kind: str, owned: bool) -> None:
        self.name = name
        self.kind = kind
        self.owned = owned

    def describe(self) -> str:
        return f"executor {self.name!r} ({self.kind})"

    def submit(self, key: str, *args: Any) -> Any:
        raise NotImplementedError

    def cancel(self, future: Any) -> bool:
        """Ask that ``future`` not run; True when it certainly will not."""
        raise NotImplementedError

    def close(self, abandoned: int) -> None:
        """End of the run (``abandoned`` calls were still running)."""


class _PoolBackend(_Backend):
    """A :class:`concurrent.futures.Executor` (process or thread pool, or another)."""

    def __init__(self, name: str, executor: cf.Executor, owned: bool) -> None:
        workers = getattr(executor, "_max_workers", None)
        kind = type(executor).__name__
        if isinstance(workers, int):
            kind += f", {workers} worker{'s' if workers != 1 else ''}"
        super().__init__(name, kind, owned)
        self.executor = executor

    def submit(self, key: str, *args: Any) -> Any:
        return self.executor.submit(run_call, *args)

    def cancel(self, future: Any) -> bool:
        return bool(future.cancel())

    def close(self, abandoned: int) -> None:
        if not self.owned:
            return  # the caller's executor: theirs to shut down
        executor = self.executor
        if abandoned and isinstance(executor, cf.ProcessPoolExecutor):
            # Our own pool, still busy with calls nobody waits for: stop its processes
            # rather than wait for work whose result would be dropped.
            # The pool may still be starting a worker: its table (mutated in place) is
            # read again after the first round, so a late starter is stopped too.
            table = getattr(executor, "_processes", None) or {}
            manager = getattr(executor, "_executor_manager_thread", None)
            stopped: dict[Any, Any] = {}
            executor.shutdown(wait=False, cancel_futures=True)
            for round_ in range(3):
                if round_ and manager is not None:
                    manager.join(2.0)  # it may still be adding a worker to the table
                fresh = {pid: p for pid, p in dict(table).items() if pid not in stopped}
                if not fresh:
                    break
                for process in fresh.values():
                    with contextlib.suppress(Exception):
                        process.terminate()
                stopped.update(fresh)
                for process in fresh.values():
                    with contextlib.suppress(Exception):
                        process.join(2.0)
            return
        executor.shutdown(wait=True, cancel_futures=True)


def _quietly(fn: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        with contextlib.suppress(Exception):
            fn()

    return run


class _DaskBackend(_Backend):
    """A ``dask.distributed.Client``: calls are ``client.submit`` tasks, keyed by node
    and call so Dask's own tools name them; cancelling is ``client.cancel``, sent
    from a thread (it waits for the scheduler, which must never stall the loop)."""

    by_value = True

    def __init__(self, name: str, client: Any, owned: bool) -> None:
        address = getattr(getattr(client, "scheduler", None), "address", None)
        super().__init__(name, "dask" + (f" {address}" if address else ""), owned)
        self.client = client

    def submit(self, key: str, *args: Any) -> Any:
        return self.client.submit(run_call, *args, key=key, pure=False)

    def cancel(self, future: Any) -> bool:
        threading.Thread(
            target=_quietly(future.cancel), name="flowtrace-dask-cancel", daemon=True
        ).start()
        return True

    def close(self, abandoned: int) -> None:
        if self.owned:
            with contextlib.suppress(Exception):
                self.client.close(timeout=_DASK_CLOSE_TIMEOUT)


class _DaskAddressBackend(_DaskBackend):
    """A Dask scheduler address: the client is created on first use, in a thread (a
    connection may take seconds, or fail after ``DASK_CONNECT_TIMEOUT``); calls
    submitted meanwhile wait in order. Each call's future is a
    :class:`concurrent.futures.Future` that mirrors the Dask one."""

    def __init__(self, name: str, address: str) -> None:
        _Backend.__init__(self, name, f"dask {address}", True)
        self.address = address
        self.client: Any = None
        self._lock = threading.Lock()
        self._error: BaseException | None = None
        self._queued: list[tuple[cf.Future[Any], str, tuple[Any, ...]]] = []
        self._connecting = False

    def submit(self, key: str, *args: Any) -> Any:
        proxy: cf.Future[Any] = cf.Future()
        with self._lock:
            if self._error is not None:
                proxy.set_exception(self._error)
                return proxy
            if self.client is None:
                self._queued.append((proxy, key, args))
                if not self._connecting:
                    self._connecting = True
                    threading.Thread(
                        target=self._connect, name="flowtrace-dask-connect", daemon=True
                    ).start()
                return proxy
        self._forward(proxy, key, args)
        return proxy

    def _connect(self) -> None:
        try:
            import importlib

            client_class: Any = importlib.import_module("distributed").Client
            client = client_class(self.address, timeout=_connect_timeout(), set_as_default=False)
        except BaseException as exc:
            error = ConnectionError(
                f"cannot connect to the Dask scheduler at {self.address}: "
                f"{type(exc).__name__}: {exc}"
            )
            with self._lock:
                self._error = error
                queued, self._queued = self._queued, []
            for proxy, _key, _args in queued:
                if proxy.set_running_or_notify_cancel():
                    proxy.set_exception(error)
            return
        with self._lock:
            self.client = client
            queued, self._queued = self._queued, []
        for proxy, key, args in queued:
            self._forward(proxy, key, args)

    def _forward(self, proxy: cf.Future[Any], key: str, args: tuple[Any, ...]) -> None:
        if not proxy.set_running_or_notify_cancel():
            return
        try:
            inner = self.client.submit(run_call, *args, key=key, pure=False)
        except BaseException as exc:
            proxy.set_exception(exc)
            return

        def copy(done: Any) -> None:
            try:
                proxy.set_result(done.result())
            except BaseException as exc:
                with contextlib.suppress(cf.InvalidStateError):
                    proxy.set_exception(exc)

        inner.add_done_callback(copy)
        proxy.inner = inner  # type: ignore[attr-defined]

    def cancel(self, future: Any) -> bool:
        inner = getattr(future, "inner", None)
        if inner is not None:
            return super().cancel(inner)
        return bool(future.cancel())

    def close(self, abandoned: int) -> None:
        with self._lock:
            self._error = self._error or ConnectionError("the run ended")
            client = self.client
        if client is not None:
            with contextlib.suppress(Exception):
                client.close(timeout=_DASK_CLOSE_TIMEOUT)


def _backend(name: str, value: Any, owned: bool) -> _Backend:
    if isinstance(value, str):
        return _DaskAddressBackend(name, value)
    if _is_dask_client(value):
        return _DaskBackend(name, value, owned)
    return _PoolBackend(name, value, owned)
