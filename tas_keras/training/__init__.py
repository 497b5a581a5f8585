"""Training pipeline (TensorFlow data / distribution live here, not in the core): configs -> runs."""
