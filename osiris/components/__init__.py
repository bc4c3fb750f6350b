"""Built-in components: one folder each (``mysql_extractor/`` for ``mysql.extractor``) holding ``spec.yaml``
and, for the runtime, ``driver.py``. The registry (``registry.py``) loads specs lazily."""
