"""A stand-in for an external generator's test script (not augreid: PIL and the csv module only).

`python mirror_generator.py BATCH_DIR RESULTS_DIR [--plain]` reads a PATN-layout batch (test/ images,
market-pairs-test.csv) as PATN's test script does and writes, for each pair, the condition image mirrored. By
default as PATN's visualiser does, `'%s_%s.jpg' % (P1 + '___' + P2, 'vis')`, a strip of five 64-pixel panels whose
last is the "generated" image; with --plain, the image alone as `{from}___{to}.jpg`.
"""
import csv
import sys
from pathlib import Path

from PIL import Image, ImageOps


def main(batch: Path, results: Path, plain: bool) -> None:
    results.mkdir(parents=True, exist_ok=True)
    with open(batch / "market-pairs-test.csv", newline="") as pairs:
        for row in csv.DictReader(pairs):
            condition = Image.open(batch / "test" / row["from"]).convert("RGB")
            target = Image.open(batch / "test" / row["to"]).convert("RGB")  # opened, as the authors' loaders do
            generated = ImageOps.mirror(condition)
            if plain:
                generated.save(results / f"{row['from'][:-4]}___{row['to'][:-4]}.jpg", quality=95)
                continue
            strip = Image.new("RGB", (5 * condition.width, condition.height))
            for i, panel in enumerate((condition, Image.new("RGB", condition.size), target,
                                       Image.new("RGB", condition.size), generated)):
                strip.paste(panel, (i * condition.width, 0))
            strip.save(results / ("%s_%s.jpg" % (row["from"] + "___" + row["to"], "vis")), quality=95)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), "--plain" in sys.argv[3:])
