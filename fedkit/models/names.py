"""The names of the models fedkit builds, free of TensorFlow (the command line offers them before importing it)."""

MODELS = ("cnn", "cnn62", "dense")  # `fedkit.models.create_keras_model` builds each
