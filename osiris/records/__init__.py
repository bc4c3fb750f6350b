"""Run records read back for people and agents: ``history`` (list and load past runs) and ``report`` (one
self-contained HTML page per run). Reads only what the runtime wrote; imports nothing of the compiler."""
