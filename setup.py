"""Packaging for emotion-encoder (see README.md)."""

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(r'__version__ = "([^"]+)"',
                    (HERE / "emotion_encoder" / "__init__.py").read_text()).group(1)

setup(
    name="emotion-encoder",
    version=VERSION,
    description="Keras emotion encoder for visual voice cloning (V2C movie dubbing): "
                "faces in video -> emotions with timestamps and fused embeddings",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["emotion_encoder", "emotion_encoder.*", "v2c_bridge",
                                    "v2c_bridge.*", "demo", "demo.*"]),
    include_package_data=True,
    package_data={"emotion_encoder": ["weights/*.weights.h5", "weights/*.json"]},
    install_requires=[
        "tensorflow>=2.21,<3",
        "keras>=3.15,<4",
        "mediapipe>=1.2.2",
        "moviepy>=2.2.1,<3",
        "librosa>=0.11",
        "gradio>=6.31,<7",
        "numpy>=2",
        "mtcnn>=1.0",
        "opencv-contrib-python>=4.10",
        "pillow>=10",
        "scikit-image>=0.24",
        "pyyaml>=6",
        "pyarrow>=15",  # emotion-encoder tag: index.parquet
        "matplotlib>=3.8",  # evaluate: confusion.png; the demo's colours
    ],
    extras_require={
        "dev": ["pytest>=8", "hypothesis>=6", "selenium>=4.20",
                "ray[data]>=2.60"],  # so that the tests run `tag --engine ray` for real
        "ray": ["ray[data]>=2.60"],  # emotion-encoder tag --engine ray
    },
    entry_points={"console_scripts": ["emotion-encoder=emotion_encoder.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Multimedia :: Video",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
