"""Recording inside Huey: the hook, the tracer, ``install()`` and the sinks.

This is what production workers import.  It imports only :mod:`hueyviz.core`
and never networkx, graphviz or the widget stack.
"""
