"""``osirisc graph FILE``: the pipeline's dependency graph as text, Mermaid or Graphviz dot.

Runs the passes up to ``build-dag`` (so parameters and components must check out); edges are the effective
``needs`` (implicit ones included), nodes appear in execution order.
"""

from __future__ import annotations

import argparse
import json
import sys

from osiris.cli import common
from osiris.compile import compile_file
from osiris.ir import Pipeline, Step


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("graph", help="print the dependency graph of a pipeline")
    p.add_argument("file", metavar="FILE")
    common.add_syntax(p)
    common.add_compile_options(p)
    common.add_format(p, "text", "mermaid", "dot")


def _steps(pipeline: Pipeline) -> list[Step]:
    return [s for sid in pipeline.order for s in pipeline.steps if s.id == sid]


def render_text(pipeline: Pipeline) -> str:
    steps = _steps(pipeline)
    width = max(len(s.id) for s in steps)
    lines = [f"{pipeline.name}: {len(steps)} step(s) in order"]
    for s in steps:
        needs = f"  <- {', '.join(s.needs)}" if s.needs else "  (root)"
        lines.append(f"  {s.id:<{width}}  {s.mode:<9}  {s.component}{needs}")
    return "\n".join(lines) + "\n"


def render_mermaid(pipeline: Pipeline) -> str:
    steps = _steps(pipeline)
    node = {s.id: f"s{i}" for i, s in enumerate(steps)}

    def label(s: Step) -> str:
        text = f"{s.id}<br/>{s.component} ({s.mode})"
        return text.replace('"', "#quot;")

    lines = ["flowchart TD"]
    lines += [f'    {node[s.id]}["{label(s)}"]' for s in steps]
    lines += [f"    {node[n]} --> {node[s.id]}" for s in steps for n in s.needs or ()]
    return "\n".join(lines) + "\n"


def render_dot(pipeline: Pipeline) -> str:
    steps = _steps(pipeline)
    lines = [f"digraph {json.dumps(pipeline.name, ensure_ascii=False)} {{", "  rankdir=LR;", "  node [shape=box];"]
    for s in steps:
        label = json.dumps(f"{s.id}\n{s.component} ({s.mode})", ensure_ascii=False)
        lines.append(f"  {json.dumps(s.id, ensure_ascii=False)} [label={label}];")
    for s in steps:
        for n in s.needs or ():
            lines.append(f"  {json.dumps(n, ensure_ascii=False)} -> {json.dumps(s.id, ensure_ascii=False)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


RENDERERS = {"text": render_text, "mermaid": render_mermaid, "dot": render_dot}


def run(args: argparse.Namespace) -> int:
    params = common.parse_params(args.param)
    result = compile_file(args.file, syntax=args.syntax, params=params, profile=args.profile, until="build-dag")
    failed = common.report(result.diagnostics, result.sources, "text")
    if failed or result.pipeline is None:
        return 2
    sys.stdout.write(common.terminal_text(RENDERERS[args.format](result.pipeline)))
    return 0
