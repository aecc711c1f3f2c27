"""The Prefect side of a guarded run (`nmr_audit.runtime.guard`): a folder refused ends the flow
run Failed, a folder another run holds ends it Cancelled (the command exits 75), and a run that
died holding the folder is set Crashed on the server.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from prefect import get_run_logger
from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound
from prefect.runtime import flow_run
from prefect.states import Cancelled, Crashed, Failed, State

from nmr_audit.errors import InputError
from nmr_audit.runtime.guard import Guard, guarded_run
from nmr_audit.runtime.lock import LockHeldError, describe_holder
from nmr_audit.runtime.marker import Kind


def mark_crashed(flow_run_id: str | None, message: str) -> bool:
    """Set a flow run that is still Running (or Pending) Crashed, with `message`: its process
    died without telling the server (`kill -9`, out of memory, power). True when one was set.
    A run the server does not know (another server, a database since removed) is left alone."""
    if not flow_run_id:
        return False
    try:
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(flow_run_id)
            if run.state is None or run.state.is_final():
                return False
            client.set_flow_run_state(flow_run_id, Crashed(message=message), force=True)
            return True
    except (ObjectNotFound, ValueError):
        return False


def current_flow_run_id() -> str | None:
    """The id of the flow run this code runs in, None outside one."""
    run_id = flow_run.id
    return str(run_id) if run_id else None


@contextmanager
def flow_guard(folder: Path, kind: Kind, share_with_group: bool) -> Iterator[Guard | State]:
    """`runtime.guard.guarded_run` for the flow run in progress: a folder refused yields a
    Failed state (its one line), a folder another run holds yields a Cancelled state (the CLI
    exits 75), and a run before this one that died holding the folder is set Crashed."""
    this_run = current_flow_run_id()
    held = ExitStack()
    try:
        guard = held.enter_context(guarded_run(folder, kind, share_with_group, this_run))
    except InputError as problem:
        yield Failed(message=problem.line())
        return
    except LockHeldError as busy:
        yield Cancelled(message=busy.line())
        return
    with held:
        logger = get_run_logger()
        if guard.previous_died and guard.previous.get("flow_run_id") != this_run:
            crashed = mark_crashed(guard.previous.get("flow_run_id"), (
                f"its process ({describe_holder(guard.previous)}) ended without finishing; "
                f"found by the next run on {folder}"))
            logger.warning("the run before this one on %s was killed (%s)%s", folder,
                           describe_holder(guard.previous), "; its flow run is now Crashed" if crashed else "")
        if guard.swept:
            logger.warning("removed what killed runs left in %s: %s", folder, ", ".join(guard.swept))
        if guard.found == "incomplete":
            logger.warning("%s held the outputs of a run killed before its commit ended (no summary.json): "
                           "this run replaces them", folder)
        yield guard
