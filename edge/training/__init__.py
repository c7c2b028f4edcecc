"""Training, export and model building: the only package that imports TensorFlow.

TensorFlow is an optional extra (`train`) that the Pi never needs, so it is imported inside the
functions here, never at `edge` import time. `windows` (the training-set builder) is numpy only.
"""
