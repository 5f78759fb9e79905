"""Types of the replay's C part (_replay.c); replay.py says when it is used."""
from typing import Any, List, Tuple

class Runner:
    def __init__(self, record: type, prototype: Any, pool: type, event: type,
                 fields: Tuple[str, ...], history: type, span: type) -> None: ...
    def run(self, replay: Any, events: List[Any], start: int) -> int: ...
