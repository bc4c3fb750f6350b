"""resolve_params: replace every ``${params.NAME}`` in step configs by the parameter's value.

Precedence (first that has a value wins): ``--param NAME=VALUE`` (``ctx.params``) > environment
``OSIRIS_PARAM_<NAME>`` (``ctx.env``) > the active profile (``ctx.profile``) > the declared default.

- Environment names: ``OSIRIS_PARAM_`` + the name exactly as declared, else upper-cased (``min_n`` is read from
  ``OSIRIS_PARAM_min_n``, else ``OSIRIS_PARAM_MIN_N``; characters other than ``[A-Za-z0-9_]`` become ``_``).
  Variables naming no declared parameter are ignored (the environment is shared); an undeclared ``--param`` is
  an error.
- Strings from the command line and the environment are read as YAML 1.2 core scalars: ``3`` is an int, ``2.5``
  a float, ``true``/``false`` bools, ``null``/``~`` null; quoting (``'3'`` or ``"3"``) forces a string; an empty
  value, ints with leading zeros (``007``), ``.inf``/``.nan``, and numbers a plan cannot hold (an int of more
  than 4300 digits, a float beyond the float range) stay strings; ``@family.alias`` used as a whole
  value is a connection reference.
- A value that is exactly one placeholder keeps the parameter's type. Inside a longer string (a ``Template``)
  the value is formatted: strings as-is, ints as digits, floats as Python's shortest repr (``2.5``), bools
  ``true``/``false``, null as the empty string; a list or mapping there is an error.

Before: ``query: "SELECT * FROM t WHERE n > ${params.min}"``, ``limit: ${params.lim}`` with ``--param min=2``
and default ``lim: 10`` -> ``query: "SELECT * FROM t WHERE n > 2"``, ``limit: 10`` (an Int).
The values used are its product (``Params``).
"""

from __future__ import annotations

import math
import re

import attrs

from osiris.frontend.numbers import decimal_fits, int_fits
from osiris.ir import nodes
from osiris.ir.diagnostics import Diagnostic, did_you_mean, error, has_errors
from osiris.passes.base import Params, PassContext, PassResult

_CONNECTION = re.compile(r"^@([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$")
_INT = re.compile(r"^[-+]?(0|[1-9][0-9]*)$")
_INT_BASE = re.compile(r"^(0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")


def parse_scalar(text: str) -> nodes.Value:
    """A ``--param``/environment string as a typed value (rules in the module docstring)."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return nodes.Str(text[1:-1])
    if text in ("true", "True", "TRUE"):
        return nodes.Bool(True)
    if text in ("false", "False", "FALSE"):
        return nodes.Bool(False)
    if text in ("null", "Null", "NULL", "~"):
        return nodes.Null()
    if _INT.match(text) and decimal_fits(text):
        return nodes.Int(int(text))
    if _INT_BASE.match(text) and int_fits(number := int(text, 0)):
        return nodes.Int(number)
    if _FLOAT.match(text) and any(c in text for c in ".eE"):
        value = float(text)
        if math.isfinite(value):
            return nodes.Float(value)
    match = _CONNECTION.match(text)
    if match:
        return nodes.ConnectionRef(match.group(1), match.group(2))
    return nodes.Str(text)


def env_names(name: str) -> list[str]:
    """The environment variables that may set parameter ``name``, in the order they are tried."""
    names = [f"OSIRIS_PARAM_{name}", f"OSIRIS_PARAM_{name.upper()}"]
    names.append("OSIRIS_PARAM_" + re.sub(r"[^A-Za-z0-9_]", "_", name).upper())
    return list(dict.fromkeys(names))


def format_value(value: nodes.Value) -> str | None:
    """The text a value contributes to a template, or None when it cannot be formatted (list, map)."""
    match value:
        case nodes.Str():
            return value.value
        case nodes.Bool():
            return "true" if value.value else "false"
        case nodes.Int():
            return str(value.value)
        case nodes.Float():
            return repr(value.value)
        case nodes.Null():
            return ""
        case nodes.ConnectionRef():
            return str(value)
    return None


def _has_placeholder(value: nodes.Value) -> bool:
    match value:
        case nodes.ParamRef() | nodes.Template():
            return True
        case nodes.List():
            return any(_has_placeholder(v) for v in value.items)
        case nodes.Map():
            return any(_has_placeholder(e.value) for e in value.entries)
    return False


@attrs.define
class _Resolver:
    pipeline: nodes.Pipeline
    ctx: PassContext
    values: dict[str, nodes.Value] = attrs.field(factory=dict)
    origins: dict[str, str] = attrs.field(factory=dict)
    diagnostics: list[Diagnostic] = attrs.field(factory=list)
    invalid: set[str] = attrs.field(factory=set)  # declared, but the value was already reported (OSR-E106)
    left: int = 0  # placeholders left unresolved (each reported, or its parameter's declaration was)

    def collect(self) -> None:
        """Fill ``values`` by precedence and report bad --param / profile input."""
        declared = {p.name: p for p in self.pipeline.params}
        profile: nodes.Profile | None = None
        if self.ctx.profile is not None:
            profiles = {p.name: p for p in self.pipeline.profiles}
            profile = profiles.get(self.ctx.profile)
            if profile is None:
                listed = ", ".join(f"'{n}'" for n in sorted(profiles)) or "none"
                notes = [f"the pipeline's profiles: {listed}"]
                hint = did_you_mean(self.ctx.profile, profiles)
                self.diagnostics.append(
                    error(
                        "OSR-E103", f"unknown profile '{self.ctx.profile}'", None, *(([hint] if hint else []) + notes)
                    )
                )
        for name in sorted(self.ctx.params):
            if name not in declared:
                hint = did_you_mean(name, declared)
                listed = ", ".join(f"'{n}'" for n in sorted(declared)) or "none"
                notes = ([hint] if hint else []) + [f"declared parameters: {listed}"]
                self.diagnostics.append(
                    error("OSR-E102", f"--param '{name}' names no declared parameter", None, *notes)
                )
        for each in self.pipeline.profiles:  # every profile, active or not: a typo should not wait for its day
            for entry in each.params.entries:
                if entry.key not in declared:
                    hint = did_you_mean(entry.key, declared)
                    self.diagnostics.append(
                        error(
                            "OSR-E104",
                            f"profile '{each.name}' sets undeclared parameter '{entry.key}'",
                            entry.key_span or each.span,
                            *([hint] if hint else []),
                            "declare it under `params:` or remove it from the profile",
                        )
                    )
        for name, param in declared.items():
            value, origin = self._lookup(param, profile)
            if value is None:
                continue
            if _has_placeholder(value):
                self.diagnostics.append(
                    error(
                        "OSR-E106",
                        f"the value of parameter '{name}' refers to a parameter",
                        value.span,
                        "parameter values are plain values; `${params.x}` inside them is not expanded",
                    )
                )
                self.invalid.add(name)
                continue
            self.values[name] = value
            self.origins[name] = origin

    def _lookup(self, param: nodes.Param, profile: nodes.Profile | None) -> tuple[nodes.Value | None, str]:
        if param.name in self.ctx.params:
            return parse_scalar(self.ctx.params[param.name]), "cli"
        for var in env_names(param.name):
            if var in self.ctx.env:
                return parse_scalar(self.ctx.env[var]), "env"
        if profile is not None:
            value = profile.params.get(param.name)
            if value is not None:
                return value, "profile"
        if param.default is not None:
            return param.default, "default"
        return None, ""

    def placeholder(self, ref: nodes.ParamRef) -> nodes.Value | None:
        """The value for one placeholder, or None after reporting why there is none."""
        if ref.name in self.values:
            return self.values[ref.name]
        declared = [p.name for p in self.pipeline.params]
        if ref.name in self.invalid:
            return None
        if ref.name in declared:
            self.diagnostics.append(
                error(
                    "OSR-E101",
                    f"parameter '{ref.name}' has no value",
                    ref.span,
                    f"give it one: --param {ref.name}=VALUE, OSIRIS_PARAM_{ref.name.upper()}, a profile, "
                    "or a default under `params:`",
                )
            )
        else:
            hint = did_you_mean(ref.name, declared)
            listed = ", ".join(f"'{n}'" for n in sorted(declared)) or "none"
            notes = ([hint] if hint else []) + [f"declared parameters: {listed}"]
            self.diagnostics.append(error("OSR-E100", f"unknown parameter '{ref.name}'", ref.span, *notes))
        return None

    def resolve_map(self, config: nodes.Map) -> nodes.Map:
        return attrs.evolve(config, entries=tuple(attrs.evolve(e, value=self.resolve(e.value)) for e in config.entries))

    def resolve(self, value: nodes.Value) -> nodes.Value:
        match value:
            case nodes.ParamRef():
                found = self.placeholder(value)
                if found is None:
                    self.left += 1
                    return value
                return attrs.evolve(found, span=value.span)
            case nodes.Template():
                out: list[str] = []
                ok = True
                for part in value.parts:
                    if isinstance(part, nodes.Str):
                        out.append(part.value)
                        continue
                    found = self.placeholder(part)
                    text = None if found is None else format_value(found)
                    if found is not None and text is None:
                        kind = "a list" if isinstance(found, nodes.List) else "a mapping"
                        self.diagnostics.append(
                            error(
                                "OSR-E105",
                                f"parameter '{part.name}' is {kind} and cannot be put inside a string",
                                part.span,
                                "use the placeholder as the whole value to keep its type",
                            )
                        )
                    ok = ok and text is not None
                    out.append(text or "")
                if not ok:
                    self.left += 1
                    return value
                return nodes.Str("".join(out), value.span)
            case nodes.List():
                return attrs.evolve(value, items=tuple(self.resolve(v) for v in value.items))
            case nodes.Map():
                return attrs.evolve(
                    value, entries=tuple(attrs.evolve(e, value=self.resolve(e.value)) for e in value.entries)
                )
        return value


def resolve_params(pipeline: nodes.Pipeline, ctx: PassContext) -> PassResult:
    """Replace ``ParamRef``/``Template`` in step configs by values chosen by precedence; record them."""
    resolver = _Resolver(pipeline, ctx)
    resolver.collect()
    pipeline_level = has_errors(resolver.diagnostics)  # --param, profile or declaration problems: no step's
    broken: set[str] = set()
    steps = []
    for step in pipeline.steps:
        if step.id in ctx.skip:
            steps.append(step)
            continue
        left = resolver.left
        config = resolver.resolve_map(step.config)
        if resolver.left > left:  # a placeholder left unresolved: reported, with the step as the place
            broken.add(step.id)
        steps.append(attrs.evolve(step, config=config))
    product = Params(
        values={name: nodes.plain(v) for name, v in sorted(resolver.values.items())},
        origins=dict(sorted(resolver.origins.items())),
        profile=ctx.profile,
    )
    errors = has_errors(resolver.diagnostics)
    return PassResult(
        attrs.evolve(pipeline, steps=tuple(steps)),
        tuple(resolver.diagnostics),
        None if errors and pipeline_level else frozenset(broken),
        product=product,
    )
