"""fedkit: TFF's classic federated-learning tutorials, runnable on TFF 0.87."""

import os

# TensorFlow's C++ logging writes to stderr at import; notebooks and nbval must not see it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# gRPC notes each worker start ("skipping fork() handlers") on stderr; only errors are worth showing.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

__version__ = "0.1.0"
