"""Training pipeline (TensorFlow data / distribution live here, not in the core): configs -> runs."""

from tas_keras.quiet_import import import_quietly

import_quietly("tensorflow")  # first loaded here on the JAX and torch backends: its import-time log lines obey the level
