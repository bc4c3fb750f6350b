"""Test helpers other packages may use too (docs/testing.md).

Submodules: ``strategies`` (IR strategies), ``pipelines`` (valid pipelines of varied DAG shapes), ``mutations``
(invalid pipelines with their expected codes), ``secrets`` (generated secrets, connection files, environments),
``tables`` (Arrow tables with hostile values, per target) and ``conformance`` (the writer/extractor suite; imports
pytest, so it is not imported here).
"""

from osiris.testing.mutations import MUTATIONS, InvalidPipeline, invalid_pipelines
from osiris.testing.pipelines import SHAPES, GeneratedPipeline, shapes, valid_pipelines
from osiris.testing.secrets import connection_files, environments, leaks, secret_values
from osiris.testing.tables import TARGETS, arrow_tables, canonical, column_types, tables_like, values_for

__all__ = [
    "MUTATIONS",
    "SHAPES",
    "TARGETS",
    "GeneratedPipeline",
    "InvalidPipeline",
    "arrow_tables",
    "canonical",
    "column_types",
    "connection_files",
    "environments",
    "invalid_pipelines",
    "leaks",
    "secret_values",
    "shapes",
    "tables_like",
    "valid_pipelines",
    "values_for",
]
