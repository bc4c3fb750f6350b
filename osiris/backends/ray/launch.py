"""``osirisc run --target ray``: connect to (or start) Ray, then run the plan with ``RayScheduler``.

Without ``--address`` a local Ray instance is started for the run (its workers use this virtualenv, as the tests'
cluster does) and stopped after it. With ``--address`` the run joins that cluster, and the workers get the plan's
pinned requirements (``pip``) and this osiris package (``py_modules``) as their runtime environment. No secret is in
either: workers resolve connections themselves (worker.py).
"""

from __future__ import annotations

import argparse
import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from osiris.runtime.cli import execute, say
from osiris.runtime.connections import find_file


def cluster_runtime_env(packages: list[str]) -> dict[str, Any]:
    import osiris
    from osiris.backends.ray import runtime_env

    env: dict[str, Any] = {"py_modules": [str(Path(osiris.__file__).parent)]}
    if packages:  # a plan run without its requirements.txt (--plan of a hand-made folder): the cluster's own
        env.update(runtime_env(packages))
    return env


def run_on_ray(
    plan: Mapping[str, Any], args: argparse.Namespace, base_dir: Path, packages: list[str], prog: str = "osirisc run"
) -> int:
    try:
        import ray
    except ImportError:
        say(f"{prog}: --target ray needs Ray: pip install 'osirisc[ray]'")
        return 2
    from osiris.backends.ray.scheduler import RayScheduler
    from osiris.backends.ray.worker import first_line

    connections = find_file(args.connections, base_dir.resolve(), dict(os.environ))
    started = False
    if not ray.is_initialized():
        try:
            if args.address:
                ray.init(address=args.address, runtime_env=cluster_runtime_env(packages), log_to_driver=False)
            else:
                ray.init(include_dashboard=False, log_to_driver=False)
        except Exception as exc:
            say(f"{prog}: cannot {'reach Ray at ' + args.address if args.address else 'start Ray'}: {first_line(exc)}")
            return 2
        started = True
    try:
        scheduler = functools.partial(RayScheduler, connections=connections)
        return execute(plan, args, base_dir, prog, scheduler=scheduler)
    finally:
        if started:
            ray.shutdown()
