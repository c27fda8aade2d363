"""``python -m emotion_encoder`` runs the command line."""

import sys

from emotion_encoder.cli import main

sys.exit(main())
