"""Poisoned steps: what a compile has found broken, so that one run reports every independent problem of a file.

A stage (the frontend, or a pass) that finds an error in a step marks the step *broken* by that stage. A later pass
skips (silently) each step broken by a stage it relies on, since what it would say about that step could be a
consequence of the first error; it still checks every other step, and a step broken only by a stage it does not
rely on. ``RELIES_ON`` says, for each pass, which stages those are:

- ``bind-components`` needs only a step's id, component and mode (the frontend's), so an unresolved parameter in
  a step's config does not hide an unknown component; ``build-dag`` also needs the mode to be the component's (a
  ``mode: write`` given to an extractor is one error, not also "a writer without input");
- ``validate-config`` and ``redact-secrets`` need the resolved config and the bound spec, not the graph and not each
  other: a writer without input still gets its bad ``write_mode`` reported, a forbidden connection-field override
  still its inline secret;
- ``infer-schemas`` and ``plan-ddl`` need everything before them. A step downstream of a skipped one is still
  checked, with its input's schema unknown (as for a source described only at run time).

A pass returns the steps it found broken in ``PassResult.broken``. ``None`` there (the default) means its errors are
not attributed to steps (a pipeline-level problem such as an unknown ``--param``): the compile stops after that
pass, as it always did. A pass that is not in ``RELIES_ON`` (``collect-requirements``, ``fingerprint``, any new pass)
runs only on a pipeline with no error at all, so it may assume fully verified IR.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

FRONTEND = "frontend"

# pass key -> the stages whose findings about a step it relies on (see above)
_EARLIER_CHECKS = ("resolve-params", "bind-components", "build-dag", "validate-config", "redact-secrets")
RELIES_ON: dict[str, frozenset[str]] = {
    "resolve-params": frozenset({FRONTEND}),
    "bind-components": frozenset({FRONTEND}),
    "build-dag": frozenset({FRONTEND, "bind-components"}),
    "validate-config": frozenset({FRONTEND, "resolve-params", "bind-components"}),
    "redact-secrets": frozenset({FRONTEND, "resolve-params", "bind-components"}),
    "infer-schemas": frozenset({FRONTEND, *_EARLIER_CHECKS}),
    "plan-ddl": frozenset({FRONTEND, *_EARLIER_CHECKS, "infer-schemas"}),
}

# Stages after which a broken step's IR may not keep the verifier's invariants (placeholders left in its config):
# the verifier skips those steps' per-step checks (osiris/ir/verify.py).
UNVERIFIED_AFTER: frozenset[str] = frozenset({FRONTEND, "resolve-params"})


@attrs.frozen
class Poison:
    """Step id -> the stages (the frontend, pass keys) that found the step broken."""

    broken: Mapping[str, frozenset[str]] = attrs.field(factory=dict)

    def __bool__(self) -> bool:
        return bool(self.broken)

    def add(self, stage: str, step_ids: Iterable[str]) -> Poison:
        ids = set(step_ids)
        if not ids:
            return self
        merged = dict(self.broken)
        for sid in ids:
            merged[sid] = merged.get(sid, frozenset()) | {stage}
        return Poison(merged)

    def skipped_by(self, pass_key: str) -> frozenset[str]:
        """The steps ``pass_key`` must not check (all broken steps for a pass not in ``RELIES_ON``)."""
        relies = RELIES_ON.get(pass_key)
        return frozenset(sid for sid, stages in self.broken.items() if relies is None or stages & relies)

    def unverified(self) -> frozenset[str]:
        return frozenset(sid for sid, stages in self.broken.items() if stages & UNVERIFIED_AFTER)


def runs_on_broken(pass_key: str) -> bool:
    """May ``pass_key`` run on a pipeline with broken steps (else only on an error-free one)?"""
    return pass_key in RELIES_ON
