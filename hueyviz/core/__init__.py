"""The vocabulary every layer speaks: events, the trace and its file format.

Imports nothing else of hueyviz (only :mod:`hueyviz.views`, lazily, for a
trace's derived views and its notebook display).
"""
