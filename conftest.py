"""Repository-wide pytest setup: quiet TensorFlow's C++ logging and pin the backend for in-process tests."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
