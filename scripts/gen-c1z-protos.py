#!/usr/bin/env python3
"""Generate iac/c1z/_pb/*_pb2.py(i) from the .proto files beside them, with grpcio-tools' protoc.

    scripts/gen-c1z-protos.py           regenerate in place (commit the result)
    scripts/gen-c1z-protos.py --check   exit 1 when the committed modules differ from a fresh generation

grpcio-tools < 1.72 bundles protoc 29, whose gencode runs on protobuf 5.29 (the version `tf` needs) and 6.
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PB = ROOT / "iac" / "c1z" / "_pb"


def generate(out: Path) -> None:
    from grpc_tools import protoc  # dev dependency: only the generator needs it

    well_known = resources.files("grpc_tools") / "_proto"
    protos = sorted(str(p.relative_to(ROOT)) for p in PB.glob("*.proto"))
    args = ["protoc", f"-I{ROOT}", f"-I{well_known}", f"--python_out={out}", f"--pyi_out={out}", *protos]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")


def generated_names(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir() if p.name.endswith(("_pb2.py", "_pb2.pyi"))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        fresh = Path(tmp) / "iac" / "c1z" / "_pb"
        names = generated_names(fresh)
        if args.check:
            stale = sorted(n for n in names
                           if not (PB / n).exists() or not filecmp.cmp(fresh / n, PB / n, shallow=False))
            stale += sorted(generated_names(PB) - names)
            if stale:
                print(f"iac/c1z/_pb is out of date ({', '.join(stale)}): run scripts/gen-c1z-protos.py",
                      file=sys.stderr)
                return 1
            return 0
        for old in generated_names(PB) - names:
            (PB / old).unlink()
        for name in sorted(names):
            (PB / name).write_bytes((fresh / name).read_bytes())
    return 0


if __name__ == "__main__":
    sys.exit(main())
