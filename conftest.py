"""Repository-wide pytest setup: quiet TensorFlow's C++ logging and pin the backend for in-process tests."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# TF 2.21's oneDNN kernels have crashed here ("double free or corruption", segfaults) on tiny convolutions and, once,
# in a tiny dense model under heavy load; the tests' numbers do not depend on them. Subprocesses inherit this.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
