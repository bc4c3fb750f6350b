"""Reference scripts run by the harness in bench/.venv-ref (they import only what that venv has)."""
