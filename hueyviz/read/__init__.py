"""Reading recorded events back: sources, the live follower, ``hueyviz record``."""
