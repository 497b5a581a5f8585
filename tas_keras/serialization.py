"""The package name every serialisable class of tas_keras registers under: saved files name them
"tas_keras>ClassName", so this never changes. Leaf module."""

PACKAGE = "tas_keras"
