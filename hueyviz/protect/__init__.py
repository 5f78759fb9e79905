"""Protection on a live system: the deadlock guard and the watchdog."""
