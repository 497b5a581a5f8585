"""The pair configs (one YAML file per teacher -> student pair), shipped as package data: tas_keras.configs."""
