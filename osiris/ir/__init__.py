"""The typed IR: nodes, spans, diagnostics and their serialization. Imports no pass, frontend or backend."""

from osiris.ir.diagnostics import Diagnostic, Severity
from osiris.ir.nodes import (
    Bool,
    ConnectionRef,
    Entry,
    Float,
    Input,
    Int,
    List,
    Map,
    Null,
    Param,
    ParamRef,
    Pipeline,
    Profile,
    SecretRef,
    Step,
    Str,
    Template,
    Value,
)
from osiris.ir.span import Span

__all__ = [
    "Bool",
    "ConnectionRef",
    "Diagnostic",
    "Entry",
    "Float",
    "Input",
    "Int",
    "List",
    "Map",
    "Null",
    "Param",
    "ParamRef",
    "Pipeline",
    "Profile",
    "SecretRef",
    "Severity",
    "Span",
    "Step",
    "Str",
    "Template",
    "Value",
]
