"""Data sources → resumable batches, plus the spec and transform the model was trained with.

Sources: image folders, CSV files (tabular or Kaggle-style pixel rows), scikit-learn's
bundled data sets (``builtin:NAME``) and a user's own torch Datasets.
"""

from trainforge.data.batches import Batches
from trainforge.data.build import build_data
from trainforge.data.bundle import DataBundle
from trainforge.data.preprocess import build_preprocess
from trainforge.data.raw import load_raw_inputs
from trainforge.data.spec import InputSpec

__all__ = [
    "Batches",
    "DataBundle",
    "InputSpec",
    "build_data",
    "build_preprocess",
    "load_raw_inputs",
]
