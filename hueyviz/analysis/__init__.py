"""The replay (the one definition of the state at time t) and the analysis
derived from it: verdicts, knots, lanes, the task graph and what-if runs."""
from .detector import diagnose, find_findings, find_knot, would_deadlock
from .finding import VERDICTS, Diagnosis, Edge, Finding

__all__ = [
           "VERDICTS",
           "Diagnosis",
           "Edge",
           "Finding",
           "diagnose",
           "find_findings",
           "find_knot",
           "would_deadlock",
]
