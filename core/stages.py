"""Staged runs: stages run in order, each recording the setup it ran with, judged done, stale or failed.

Both products run stages this way: the restoration project
(:mod:`core.pipeline.project`, one ``stage.json`` per stage) and the
dataset builder (:mod:`core.dataset.builder`, one stage manifest per
stage). Each keeps its own record format on disk; the rules are here, once:

- A stage's **setup** is what decides its result: the hash of its
  parameters and the digest of what it was run on (the inputs, or the
  outputs of the stage before it: its **upstream**). A record made with
  the same setup is resumed (:func:`same_setup`); another setup, or
  ``force``, redoes the stage from scratch (:func:`fresh_run`).
- A recorded stage is :data:`DONE` only when its record says done and
  every check holds, in order (its parameters are the current ones, the
  stage before it is done and is the one it was built on, its outputs are
  as it left them); the first check that fails makes it :data:`STALE`, with
  that check's reason (:func:`judge`, :func:`upstream_checks`). A record
  that is not done keeps its state (:data:`RUNNING`, :data:`FAILED`) or is
  judged by the caller (an interrupted run).
- A stage that raises is recorded failed, with the error; one interrupted
  from the keyboard stays running, ``interrupted`` (:func:`failure`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Union

DONE = "done"
STALE = "stale"
FAILED = "failed"
RUNNING = "running"

#: A check of :func:`judge`: a truth value, or a callable returning one (called only when reached), and the
#: reason the stage is stale when it is false.
Check = tuple[Union[bool, Callable[[], bool]], str]


@dataclasses.dataclass(frozen=True)
class Judgement:
    """Where one stage stands: its ``state`` and, unless done, why (``reason``)."""

    state: str
    reason: str = ""

    @property
    def done(self) -> bool:
        return self.state == DONE


def judge(status: str | None, checks: Iterable[Check] = (), *, missing: str = "not run",
          error: str = "") -> Judgement:
    """The state of a stage whose record says ``status`` (``None``: there is no record).

    No record: ``missing`` (the caller's word: ``not run``, ``not
    started``). A record that is not done keeps its status, with ``error``
    as the reason. A done record is :data:`STALE` with the reason of the
    first of ``checks`` that fails (later checks are not evaluated), else
    :data:`DONE`.
    """
    if status is None:
        return Judgement(missing)
    if status != DONE:
        return Judgement(status, error)
    for test, reason in checks:
        if not (test() if callable(test) else test):
            return Judgement(STALE, reason)
    return Judgement(DONE)


def upstream_checks(before: str | None, before_state: str | None, recorded: Any, current: Any, *,
                    changed: str) -> list[Check]:
    """The checks that a stage is built on its predecessor as it is now.

    ``before`` / ``before_state``: the predecessor's name and state (``None``:
    the first stage); it must be done (else stale: ``stage BEFORE is
    STATE``). ``recorded`` / ``current``: the upstream digest the stage was
    run on and the one it would be run on now; they must be equal (else
    stale: ``changed``).
    """
    checks: list[Check] = []
    if before is not None:
        checks.append((before_state == DONE, f"stage {before} is {before_state}"))
    checks.append((recorded == current, changed))
    return checks


def same_setup(record: Mapping[str, Any] | None, setup: Mapping[str, Any]) -> bool:
    """Whether ``record`` (a stage's record, or ``None``) was made with every value of ``setup``."""
    return record is not None and all(record.get(k) == v for k, v in setup.items())


def fresh_run(record: Mapping[str, Any] | None, setup: Mapping[str, Any], *, force: bool) -> bool:
    """Whether a stage starts from scratch: ``force``, or its record was made with another setup (or there is
    none); otherwise it resumes where its last run of the same setup stopped."""
    return force or not same_setup(record, setup)


def failure(exc: BaseException) -> tuple[str, str]:
    """``(status, error)`` to record for a stage that raised ``exc``: :data:`FAILED` and the error's text (its
    type's name when it has none); a keyboard interrupt leaves it :data:`RUNNING`, ``interrupted``."""
    if isinstance(exc, KeyboardInterrupt):
        return RUNNING, "interrupted"
    return FAILED, str(exc) or type(exc).__name__
