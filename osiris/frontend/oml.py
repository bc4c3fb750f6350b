"""The OML frontend: OML v0.1.0 YAML (docs/oml.md) lowered to ``ir.Pipeline``, every structural rule checked.

``parse_oml(text, file)`` never raises for any input. It reports all problems it finds (it keeps going after an
error) and returns a pipeline only when none of them is an error. Choices made where OML is loose:

- Scalars keep YAML 1.1 meaning, as in Osiris (``yes``/``on`` are booleans, with warning OSR-W012); keys are text.
- Aliases are resolved (anchors may be shared, ``<<`` merges mappings); a recursive alias is an error (OSR-E017).
- ``config:`` and ``needs:`` written with no value mean "not given"; ``params: {x: }`` declares a parameter that
  must be given (no default). A step may carry a ``description`` (documentation only, not kept in the IR).
- ``inputs: {NAME: "${STEP.df}"}`` (Osiris's pipeline-format reference; its quickstart writes ``"@STEP"``) names the
  steps whose data a step reads: they become its ``needs`` when it has none, and must be among its ``needs`` when
  it has some (docs/oml.md).
- The legacy spellings ``uses``/``with`` are read as ``component``/``config`` with warning OSR-W015.
"""

from __future__ import annotations

import os
import re

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from osiris.frontend.oml_dag import StepRefs, check_dag
from osiris.frontend.oml_values import PARAM_NAME_RE, lower
from osiris.frontend.yaml_nodes import TAG, Doc, TooComplex, compose
from osiris.ir import nodes as ir
from osiris.ir.diagnostics import Diagnostic, did_you_mean, error, has_errors
from osiris.ir.span import Span

OML_VERSION = "0.1.0"
REQUIRED = ("oml_version", "name", "steps")
OPTIONAL = ("description", "metadata", "schedule", "params", "profiles")
FORBIDDEN = {
    "version": "use 'oml_version: \"0.1.0\"' instead",
    "connectors": "declare connections in osiris_connections.yaml and refer to them from a step's config: "
    'connection: "@family.alias"',
    "tasks": "use 'steps' instead: a list of steps with id, component and mode",
    "outputs": "write data with a writer step in 'steps' (e.g. filesystem.csv_writer, supabase.writer)",
}
MODES = ("read", "write", "transform")
MODE_ALIASES = {"extract": "read", "extractor": "read", "load": "write", "writer": "write", "processor": "transform"}
STEP_KEYS = ("id", "component", "mode", "config", "needs", "inputs", "description", "uses", "with")
LEGACY = {  # legacy spelling -> (modern spelling, what Osiris's own validator makes of the legacy one)
    "uses": ("component", "Osiris's validator rejects a step without 'component'"),
    "with": ("config", "Osiris's validator does not read 'with', so it checks none of that config"),
}
INPUT_RE = re.compile(r"^\$\{([^{}]+)\.([A-Za-z_][A-Za-z0-9_]*)\}$")
KEBAB_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_KINDS = {"null": "null", "bool": "a boolean", "int": "an integer", "float": "a number", "str": "a string"}


def parse_oml(text: str, file: str) -> tuple[ir.Pipeline | None, list[Diagnostic]]:
    """Parse and lower one OML file; the pipeline is None when any diagnostic is an error."""
    pipeline, diagnostics, _ = parse_oml_partial(text, file)
    return (None if pipeline is None or has_errors(diagnostics) else pipeline), diagnostics


def parse_oml_partial(text: str, file: str) -> tuple[ir.Pipeline | None, list[Diagnostic], frozenset[str]]:
    """Parse and lower one OML file as far as it goes: a step with errors is kept with what could be read of it (its
    id, ``""`` for a component or mode that could not be); the third item are the steps on a dependency cycle.
    ``osiris.frontend.partial_pipeline`` decides what of it the passes may check."""
    doc = Doc(text, file)
    try:
        pipeline = _pipeline(doc)
    except Exception as exc:  # a bug here must reach the user as a diagnostic, never as a traceback
        if os.environ.get("OSIRIS_DEBUG"):
            raise
        doc.diagnostics.append(
            error("OSR-E009", f"internal compiler error in the OML frontend: {type(exc).__name__}: {exc}")
        )
        pipeline = None
    diagnostics = list(dict.fromkeys(doc.diagnostics))
    return pipeline, diagnostics, frozenset(doc.cycles)


# ------------------------------------------------------------------------------------------ helpers


def _kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return _KINDS.get(str(node.tag).removeprefix(TAG), f"a '{node.tag}' value")


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == TAG + "null"


def _text(doc: Doc, node: Node, what: str, *notes: str, allow_empty: bool = False) -> str | None:
    """A scalar that must be a (non-empty) string; anything else is OSR-E022."""
    if isinstance(node, ScalarNode) and node.tag == TAG + "str":
        if not allow_empty and not node.value.strip():
            doc.error("OSR-E022", f"{what} must not be empty", doc.span(node), *notes)
            return None
        return str(node.value)
    if not notes and isinstance(node, ScalarNode) and not _is_null(node):
        notes = (f'quote it if you mean the text: "{node.value}"',)
    doc.error("OSR-E022", f"{what} must be a string, not {_kind(node)}", doc.span(node), *notes)
    return None


def _value(doc: Doc, node: Node, *, refs: bool) -> ir.Value:
    """``lower`` with the size/recursion limits turned into one OSR-E017 diagnostic."""
    try:
        return lower(doc, node, refs=refs)
    except TooComplex as exc:
        doc.error("OSR-E017", str(exc), doc.span(exc.node))
        return ir.Null(doc.span(node))


def _join(doc: Doc, first: Node, last: Node) -> Span:
    a, b = doc.span(first), doc.span(last)
    return Span(doc.file, a.line, a.col, b.end_line, b.end_col)


# ------------------------------------------------------------------------------------------ the document


def _pipeline(doc: Doc) -> ir.Pipeline | None:
    root = compose(doc)
    if root is None:
        return None
    if not isinstance(root, MappingNode):
        doc.error(
            "OSR-E013",
            f"an OML document must be a mapping, not {_kind(root)}",
            doc.span(root),
            'it starts with oml_version, name and steps, e.g. oml_version: "0.1.0"',
        )
        return None
    fields: dict[str, tuple[Node, Node]] = {}
    for key, key_node, value_node in doc.pairs(root):
        fields[key] = (key_node, value_node)
        if key in FORBIDDEN:
            doc.error("OSR-E021", f"'{key}' is not an OML key", doc.span(key_node), FORBIDDEN[key])
        elif key not in REQUIRED and key not in OPTIONAL:
            hint = did_you_mean(key, REQUIRED + OPTIONAL)
            doc.warning(
                "OSR-W010", f"unknown top-level key '{key}' (ignored)", doc.span(key_node), *([hint] if hint else [])
            )
    for key in REQUIRED:
        if key not in fields:
            doc.error("OSR-E020", f"missing required top-level key '{key}'", doc.start(root))

    version = _version(doc, fields["oml_version"][1]) if "oml_version" in fields else None
    name = _name(doc, fields["name"][1]) if "name" in fields else None
    steps = _steps(doc, *fields["steps"]) if "steps" in fields else None
    description = None
    if "description" in fields and not _is_null(fields["description"][1]):
        description = _text(doc, fields["description"][1], "description", allow_empty=True)
    metadata = None
    if "metadata" in fields and not _is_null(meta_node := fields["metadata"][1]):
        if isinstance(meta_node, MappingNode):
            value = _value(doc, meta_node, refs=False)
            metadata = value if isinstance(value, ir.Map) else None
        else:
            doc.error("OSR-E022", f"metadata must be a mapping, not {_kind(meta_node)}", doc.span(meta_node))
    schedule = _value(doc, fields["schedule"][1], refs=False) if "schedule" in fields else None
    params = _params(doc, fields["params"][1]) if "params" in fields else ()
    profiles = _profiles(doc, fields["profiles"][1]) if "profiles" in fields else ()
    if version is None or name is None or steps is None:
        return None
    end_line, end_col = doc.position(len(doc.text))
    return ir.Pipeline(
        name=name,
        oml_version=version,
        steps=steps,
        description=description,
        metadata=metadata,
        schedule=schedule,
        params=params,
        profiles=profiles,
        span=Span(doc.file, 1, 1, end_line, end_col),
        name_span=doc.span(fields["name"][1]),
    )


def _version(doc: Doc, node: Node) -> str | None:
    version = _text(doc, node, "oml_version", f'write oml_version: "{OML_VERSION}" (quoted)')
    if version is not None and version != OML_VERSION:
        doc.warning(
            "OSR-W014",
            f"OML version '{version}' is not supported; reading the file as {OML_VERSION}",
            doc.span(node),
            f'osirisc reads OML {OML_VERSION}: write oml_version: "{OML_VERSION}"',
        )
    return version


def _name(doc: Doc, node: Node) -> str | None:
    name = _text(doc, node, "name")
    if name is not None and not KEBAB_RE.match(name):
        kebab = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        doc.warning(
            "OSR-W011",
            f"pipeline name '{name}' is not lowercase-kebab",
            doc.span(node),
            *([f"the convention is lowercase words joined by '-', e.g. '{kebab}'"] if kebab else []),
        )
    return name


# ------------------------------------------------------------------------------------------ steps


def _steps(doc: Doc, key_node: Node, node: Node) -> tuple[ir.Step, ...] | None:
    if not isinstance(node, SequenceNode) or not node.value:
        what = "an empty list" if isinstance(node, SequenceNode) else _kind(node)
        span = doc.span(key_node) if _is_null(node) else doc.span(node)
        doc.error(
            "OSR-E023",
            f"steps must be a non-empty list of steps, not {what}",
            span,
            "each step is a mapping with id, component and mode, written '- id: ...'",
        )
        return None
    steps: list[ir.Step] = []
    refs: list[StepRefs] = []
    for item in node.value:
        step, ref = _step(doc, item)
        steps += [step] if step is not None else []  # (a step without an id is not kept: its error is reported)
        refs += [ref] if ref is not None else []
    doc.cycles |= check_dag(doc, refs)
    return tuple(steps)


def _spelling(doc: Doc, fields: dict[str, tuple[Node, Node]], new: str, legacy: str) -> tuple[Node, Node] | None:
    """The field under its current or legacy name; both at once is OSR-E027."""
    if new in fields and legacy in fields:
        first, second = sorted((fields[new][0], fields[legacy][0]), key=lambda n: n.start_mark.index)
        doc.error(
            "OSR-E027",
            f"'{new}' and '{legacy}' are both given",
            doc.span(second),
            f"'{legacy}' is the legacy spelling of '{new}': keep one",
            f"the other is at {doc.start(first)}",
        )
    return fields.get(new) or fields.get(legacy)


def _step(doc: Doc, node: Node) -> tuple[ir.Step | None, StepRefs | None]:
    if not isinstance(node, MappingNode):
        doc.error(
            "OSR-E024",
            f"a step must be a mapping, not {_kind(node)}",
            doc.span(node),
            "a step is written '- id: ...' with component and mode on the following lines",
        )
        return None, None
    fields: dict[str, tuple[Node, Node]] = {}
    for key, key_node, value_node in doc.pairs(node):
        fields[key] = (key_node, value_node)
        if key not in STEP_KEYS:
            hint = did_you_mean(key, STEP_KEYS[:7])
            doc.error(
                "OSR-E026",
                f"unknown key '{key}' in a step",
                doc.span(key_node),
                hint or "a step has id, component, mode, config, needs and inputs",
            )
    component_field = _spelling(doc, fields, "component", "uses")
    config_field = _spelling(doc, fields, "config", "with")
    for legacy, (modern, why) in LEGACY.items():
        if legacy in fields and modern not in fields:
            doc.warning(
                "OSR-W015",
                f"'{legacy}' is the legacy spelling of '{modern}' (deprecated)",
                doc.span(fields[legacy][0]),
                f"write '{modern}' instead: {why}",
            )

    step_id = _text(doc, fields["id"][1], "a step id") if "id" in fields else None
    label = f"step '{step_id}'" if step_id else "this step"
    for key, present in (("id", "id" in fields), ("component", component_field), ("mode", "mode" in fields)):
        if not present:
            doc.error("OSR-E025", f"{label} is missing '{key}'", doc.start(node))
    component = _text(doc, component_field[1], "component") if component_field else None
    mode = _mode(doc, fields["mode"][1]) if "mode" in fields else None
    needs, needs_spans, needs_ok = _needs(doc, fields["needs"][1]) if "needs" in fields else (None, (), True)
    if "inputs" in fields:
        declared, input_spans, inputs_ok = _inputs(doc, fields["inputs"][1], mode, label)
        needs_ok &= inputs_ok
        if needs is None:
            needs, needs_spans = declared, input_spans
        else:
            _inputs_in_needs(doc, declared, input_spans, needs, label)
    config = _config(doc, config_field[1]) if config_field else ir.Map()
    if "description" in fields and not _is_null(fields["description"][1]):
        _text(doc, fields["description"][1], "a step description", allow_empty=True)

    if step_id is None:
        return None, None
    ref = StepRefs(step_id, doc.span(fields["id"][1]), mode, needs, needs_spans)
    # what could be read; a part that could not is "" or empty, and an error in the step says why
    return ir.Step(
        id=step_id,
        component=component or "",
        mode=mode or "",
        config=config if config is not None else ir.Map((), doc.span(node)),
        needs=needs if needs_ok else (),
        span=doc.span(node),
        id_span=doc.span(fields["id"][1]),
        component_span=doc.span(component_field[1]) if component_field else None,
        mode_span=doc.span(fields["mode"][1]) if "mode" in fields else None,
        needs_spans=needs_spans if needs_ok else (),
    ), ref


def _mode(doc: Doc, node: Node) -> str | None:
    mode = _text(doc, node, "mode", f"mode is one of {', '.join(MODES)}")
    if mode is None or mode in MODES:
        return mode
    if mode.lower() in MODES:
        hint = f"did you mean '{mode.lower()}'?"
    elif mode.lower() in MODE_ALIASES:
        hint = f"OML spells this mode '{MODE_ALIASES[mode.lower()]}'"
    else:
        hint = did_you_mean(mode, MODES) or ""
    doc.error(
        "OSR-E028",
        f"unknown mode '{mode}'",
        doc.span(node),
        *([hint] if hint else []),
        f"mode is one of {', '.join(MODES)}",
    )
    return None


def _needs(doc: Doc, node: Node) -> tuple[tuple[str, ...] | None, tuple[Span, ...], bool]:
    """``needs``: (ids, spans, ok); ids are None when written with no value."""
    if _is_null(node):
        return None, (), True
    if not isinstance(node, SequenceNode):
        notes = [f"write needs: [{node.value}]"] if isinstance(node, ScalarNode) else []
        doc.error("OSR-E022", f"needs must be a list of step ids, not {_kind(node)}", doc.span(node), *notes)
        return None, (), False
    ids: list[str] = []
    spans: list[Span] = []
    ok = True
    for item in node.value:
        need = _text(doc, item, "each entry of needs (a step id)")
        if need is None:
            ok = False
        elif need in ids:
            doc.warning(
                "OSR-W013",
                f"'{need}' is listed twice in needs",
                doc.span(item),
                f"first listed at {spans[ids.index(need)]}",
            )
        else:
            ids.append(need)
            spans.append(doc.span(item))
    return tuple(ids), tuple(spans), ok


def _inputs(
    doc: Doc, node: Node, mode: str | None, label: str
) -> tuple[tuple[str, ...] | None, tuple[Span, ...], bool]:
    """``inputs``: ``{NAME: "${STEP.df}"}`` -> (the steps in order, their spans, ok). Osiris's compiler reads no
    ``inputs`` (its steps get data from ``needs`` or the step above); its reference documents them as the data a
    step takes, which is what osirisc makes of them. The names are labels: a transform sees each input as
    ``df_<step id>`` (OSR-W016 when a name suggests otherwise)."""
    if _is_null(node) or (isinstance(node, MappingNode) and not node.value):  # no inputs: as if not written
        return None, (), True
    if not isinstance(node, MappingNode):
        doc.error(
            "OSR-E037",
            f"inputs must be a mapping of names to upstream outputs, not {_kind(node)}",
            doc.span(node),
            'write inputs: {df: "${STEP_ID.df}"}',
        )
        return None, (), False
    if mode == "read":
        doc.error(
            "OSR-E038",
            f"{label} reads from a source and takes no inputs",
            doc.span(node),
            "only transform and write steps take data from other steps",
        )
        return None, (), False
    ids: list[str] = []
    spans: list[Span] = []
    ok = True
    for name, key_node, value_node in doc.pairs(node):
        text = value_node.value.strip() if isinstance(value_node, ScalarNode) and value_node.tag == TAG + "str" else ""
        if text.startswith("@") and len(text) > 1:  # Osiris's quickstart writes "@STEP_ID"
            text = "${" + text[1:] + ".df}"
        match = INPUT_RE.match(text)
        if match is None or match.group(1).startswith("params."):
            doc.error(
                "OSR-E037",
                f"input '{name}' must name an upstream step's output, written \"${{STEP_ID.df}}\"",
                doc.span(value_node),
                f'e.g. {name}: "${{extract.df}}" or {name}: "@extract" (quoted)',
            )
            ok = False
            continue
        source, output = match.group(1), match.group(2)
        if output != "df":
            doc.error(
                "OSR-E037",
                f"input '{name}': step output '{output}' does not exist",
                doc.span(value_node),
                f'every step has one output, df: write "${{{source}.df}}"',
            )
            ok = False
            continue
        if mode == "transform" and name not in ("df", "input_df", _sql_name(source)):
            doc.warning(
                "OSR-W016",
                f"input name '{name}' is not a table name in the step's SQL",
                doc.span(key_node),
                f"the query sees this input as {_sql_name(source)} (and as input_df when it is the only input)",
            )
        if source in ids:
            doc.warning("OSR-W013", f"step '{source}' is given twice in inputs", doc.span(value_node))
            continue
        ids.append(source)
        spans.append(doc.span(value_node))
    return tuple(ids), tuple(spans), ok


def _inputs_in_needs(
    doc: Doc, declared: tuple[str, ...] | None, spans: tuple[Span, ...], needs: tuple[str, ...], label: str
) -> None:
    """With both ``needs`` and ``inputs``, every input's step must be a need (the step could not read it otherwise)."""
    for source, span in zip(declared or (), spans, strict=True):
        if source not in needs:
            doc.error(
                "OSR-E038",
                f"{label} takes input from '{source}', which is not in its needs",
                span,
                f"add '{source}' to needs, or drop needs: inputs alone set the dependencies",
            )


def _sql_name(step_id: str) -> str:
    """The table name a transform sees an upstream step under (same rule as the build_dag pass)."""
    body = re.sub(r"[^A-Za-z0-9_]", "_", step_id)
    return f"df_{'_' if body[:1].isdigit() else ''}{body}"


def _config(doc: Doc, node: Node) -> ir.Map | None:
    if _is_null(node):
        return ir.Map((), doc.span(node))
    if not isinstance(node, MappingNode):
        doc.error("OSR-E022", f"config must be a mapping, not {_kind(node)}", doc.span(node))
        return None
    value = _value(doc, node, refs=True)
    return value if isinstance(value, ir.Map) else None


# ------------------------------------------------------------------------------------------ params and profiles


def _params(doc: Doc, node: Node) -> tuple[ir.Param, ...]:
    if _is_null(node):
        return ()
    if not isinstance(node, MappingNode):
        doc.error(
            "OSR-E022",
            f"params must be a mapping of parameter names to values, not {_kind(node)}",
            doc.span(node),
            "params: {NAME: default} or params: {NAME: {default: ..., description: ...}}",
        )
        return ()
    params: list[ir.Param] = []
    for name, key_node, value_node in doc.pairs(node):
        _check_param_name(doc, name, key_node)
        default: ir.Value | None = None
        description: str | None = None
        if isinstance(value_node, MappingNode):
            for key, decl_key, decl_value in doc.pairs(value_node):
                if key == "default":
                    default = _value(doc, decl_value, refs=True)
                elif key == "description":
                    description = _text(doc, decl_value, "a parameter description", allow_empty=True)
                else:
                    hint = did_you_mean(key, ("default", "description"))
                    doc.error(
                        "OSR-E035",
                        f"unknown key '{key}' in the declaration of parameter '{name}'",
                        doc.span(decl_key),
                        hint or "a parameter declaration has default and description",
                    )
        elif not _is_null(value_node):
            default = _value(doc, value_node, refs=True)
        params.append(ir.Param(name, default, description, _join(doc, key_node, value_node)))
    return tuple(params)


def _check_param_name(doc: Doc, name: str, key_node: Node) -> None:
    if not PARAM_NAME_RE.match(name):
        doc.error(
            "OSR-E035",
            f"invalid parameter name '{name}'",
            doc.span(key_node),
            "a parameter name is a letter or _ followed by letters, digits and _ (it is used as "
            "${params.NAME} and OSIRIS_PARAM_NAME)",
        )


def _profiles(doc: Doc, node: Node) -> tuple[ir.Profile, ...]:
    if _is_null(node):
        return ()
    if not isinstance(node, MappingNode):
        doc.error(
            "OSR-E022",
            f"profiles must be a mapping of profile names, not {_kind(node)}",
            doc.span(node),
            "profiles: {dev: {params: {NAME: value}}}",
        )
        return ()
    profiles: list[ir.Profile] = []
    for name, key_node, value_node in doc.pairs(node):
        if not isinstance(value_node, MappingNode):
            doc.error(
                "OSR-E022",
                f"profile '{name}' must be a mapping, not {_kind(value_node)}",
                doc.span(value_node),
                f"profiles: {{{name}: {{params: {{NAME: value}}}}}}",
            )
            continue
        params = ir.Map((), doc.span(value_node))
        for key, inner_key, inner_value in doc.pairs(value_node):
            if key != "params":
                hint = did_you_mean(key, ("params",))
                doc.error(
                    "OSR-E036",
                    f"unknown key '{key}' in profile '{name}'",
                    doc.span(inner_key),
                    hint or "a profile has one key, params",
                )
            elif isinstance(inner_value, MappingNode):
                for param_name, param_key, _ in doc.pairs(inner_value):
                    _check_param_name(doc, param_name, param_key)
                value = _value(doc, inner_value, refs=True)
                params = value if isinstance(value, ir.Map) else params
            elif not _is_null(inner_value):
                doc.error(
                    "OSR-E022",
                    f"the params of profile '{name}' must be a mapping, not {_kind(inner_value)}",
                    doc.span(inner_value),
                )
        profiles.append(ir.Profile(name, params, _join(doc, key_node, value_node)))
    return tuple(profiles)
