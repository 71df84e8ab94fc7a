"""The package version, in a leaf module that imports nothing.

Tools and exporters read it from here, so asking for the version never loads the engine.
"""

__version__ = "0.1.0"
