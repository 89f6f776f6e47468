"""compose-cilo: isolated copies of one Docker Compose project, side by side."""

__version__ = "0.1.0"
