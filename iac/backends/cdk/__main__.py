"""The app of the root cdktf.json (``python -m iac.backends.cdk``): `cdktf synth` runs it with the project
directory as working directory, its context in ``$CDKTF_CONTEXT_JSON`` and the output directory in
``$CDKTF_OUTDIR``. Settings come from the ``iac:*`` context keys (see ``settings_from_context``); with
``"iac:provider": "baton"`` the stack is synthesized for this project's provider (:mod:`iac.backends.terraform.cdk`)."""

from __future__ import annotations

import dataclasses
import gc
import os
import sys
from pathlib import Path

from iac.backends.cdk import read_context, settings_from_context, synth
from iac.errors import IacError
from iac.spec import load_stack


def main() -> int:
    try:
        stack_file, environment, settings = settings_from_context(read_context(Path.cwd()))
        stack = load_stack(stack_file)
        if environment:
            stack = stack.environment(environment)
            settings = dataclasses.replace(settings, stack_id=f"{stack.name}-{environment}")
        outdir = os.environ.get("CDKTF_OUTDIR", "cdktf.out")
        if settings.provider == "baton":
            from iac.backends.terraform.cdk import synth as synth_baton

            synth_baton(stack, outdir, settings)
        else:
            synth(stack, outdir, settings)
    except IacError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        # The process ends here. Frozen, the objects of the CDK library and its bindings (480,000 with CDKTF,
        # which imports every module of its bindings) are left out of the interpreter's collections at shutdown,
        # which otherwise take a second or more with CDKTF (bench/synth.py); `iac` does the same.
        gc.freeze()
    return 0


if __name__ == "__main__":
    sys.exit(main())
