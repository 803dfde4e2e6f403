"""The instructor's grading tools: nbgrader pipeline, sandbox, judge, tamper scan, validity
and mutation checks, release. It imports the student library (``genlab``); the student
library never imports it (``tests/test_layers.py``)."""
