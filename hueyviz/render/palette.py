"""Colours and words shared by every view, so a state looks the same everywhere.

Okabe-Ito palette: distinguishable with the common colour-vision
deficiencies.  States that must never be confused also differ in pattern
(blocked is hatched) or in line style (the culprit edge is thick and dashed).
"""

# Task states and execution outcomes.
STATE_COLOURS = {
    "complete": "#009E73",      # bluish green
    "running": "#56B4E9",       # sky blue
    "blocked": "#E69F00",       # orange (drawn hatched in lanes)
    "queued": "#F0E442",        # yellow
    "scheduled": "#F0E442",
    "pending": "#F0E442",
    "error": "#D55E00",         # vermilion
    "retrying": "#CC79A7",      # reddish purple
    "revoked": "#999999",
    "expired": "#999999",
    "canceled": "#999999",
    "locked": "#999999",
    "rate-limited": "#999999",
    "timeout": "#D55E00",
    "interrupted": "#000000",
    "lost": "#000000",
    "unknown": "#BBBBBB",
    "finished": "#009E73",
}

CULPRIT = "#D55E00"      # vermilion, plus thick dashed stroke
KNOT = "#E69F00"         # orange outline for knot members
WAIT_EDGE = "#0072B2"    # blue
SPAWN_EDGE = "#999999"
POOL = "#0072B2"
TEXT = "#222222"
MUTED = "#666666"
GRID = "#DDDDDD"
BACKGROUND = "#FFFFFF"
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"

# Colour by task name (an option of the lanes, as in Dask's task stream):
# the Okabe-Ito hues, orange last (it is the blocked hatch's colour); the
# state colours stay the default and blocked time stays hatched either way.
NAME_COLOURS = ("#0072B2", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
                "#999999", "#000000", "#E69F00")
SELECTED = "#000000"     # outline of the selected task, in every view

VERDICT_COLOURS = {"ok": "#009E73", "deadlock": CULPRIT, "stall": "#E69F00",
                   "hang": "#CC79A7"}


def state_colour(state: str) -> str:
    return STATE_COLOURS.get(state, STATE_COLOURS["unknown"])
