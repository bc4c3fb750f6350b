"""The runtime: executes a compiled ``plan.json``. It imports nothing from the compiler (frontend, ir, passes,
backends), so a sandbox can run a plan with only ``osiris.runtime``, ``osiris.dialects`` and the drivers it uses."""
