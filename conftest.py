# Doctest collection imports every module; running the CLI entry point is not a test.
collect_ignore = ["hueyviz/__main__.py", "dev.py", "bench"]
