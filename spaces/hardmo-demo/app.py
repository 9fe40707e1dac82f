"""HardMo demo Space: SMPL meshes of HardMo-4DHumans and HardMo-HMR over your photos and clips.

All logic lives in the ``hardmo-hf`` package (``hardmo_hf.demo``), which ``requirements.txt`` installs;
this file only builds and launches the app. Configuration comes from the Space's variables and secrets
(see README.md): HARDMO_4DHUMANS_MODEL, HARDMO_HMR_MODEL, HARDMO_SMPL_PATH / HARDMO_SMPL_REPO + HF_TOKEN,
HARDMO_DETECTOR.
"""

import logging
import sys
from pathlib import Path

try:
    from hardmo_hf.demo.app import build_demo
except ImportError:  # a source checkout run as `python spaces/hardmo-demo/app.py` without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from hardmo_hf.demo.app import build_demo

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

# Load models, SMPL and detector at start-up so the first visitor does not wait for downloads.
demo = build_demo(warm_up=True)

if __name__ == "__main__":
    demo.launch()
