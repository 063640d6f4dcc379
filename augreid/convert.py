"""`python -m augreid.convert [--generator NAME] --official FILE --out generator.pt`.

The authors' published generator weights (a PATN, PoNA, APS or GFLA state dict under the official key names, as
their training scripts save it) as an augreid `generator.pt`, which `--checkpoint` of `augreid.quality` and
`augreid.generate` then reads. The architecture is inferred from the tensors, the generator from the key names
unless `--generator` says it; every official tensor must find a place of its shape and every augreid tensor must
be filled, or the command stops naming the first key that does not fit (`augreid/sources/official.py`). The
output records where the weights came from (file, SHA-256, key prefix) and is written atomically.
"""
from __future__ import annotations

from pathlib import Path

from augreid.config import GENERATOR_NAMES, GeneratorArchitecture
from augreid.core.cli import ArgumentParser, command
from augreid.core.output import check_output_file
from augreid.models.layers import parameter_count
from augreid.sources.checkpoint import describe, load_generator, save
from augreid.sources.official import convert_official


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m augreid.convert", description="The authors' published generator "
                                     "weights as an augreid generator.pt")
    parser.add_argument("--generator", choices=GENERATOR_NAMES,
                        help="which generator the weights are for (default: guessed from the key names)")
    parser.add_argument("--official", required=True, type=Path,
                        help="the authors' weights file, e.g. latest_net_netG.pth")
    parser.add_argument("--out", required=True, type=Path, help="the augreid generator.pt to write")
    args = parser.parse_args(argv)
    check_output_file(args.out)  # before the conversion: a folder, /proc/x or a path under a file is refused
    save(args.out, convert_official(args.generator, args.official))
    model, payload = load_generator(args.out)  # reads back what was written: it loads as any generator.pt does
    provenance = payload["provenance"]
    architecture = GeneratorArchitecture(**payload["architecture"])
    print(f"{describe(payload['generator'], architecture)}: {parameter_count(model):,} parameters, "
          f"from {args.official} (key prefix '{provenance['key_prefix']}', sha256 {provenance['sha256'][:12]}) "
          f"-> {args.out}")
    return 0


run = command(main)

if __name__ == "__main__":
    run()
