"""Imported by the pool's forkserver at its start (the preload list): it dies with photobot.

Only the forkserver imports this module; importing it anywhere else would tie that process's life
to its parent's. See `photobot.processing.lifeline`.
"""

from __future__ import annotations

import os

from photobot.processing.lifeline import die_with_parent

ARMED = die_with_parent()
PID = os.getpid()
"""The forkserver's pid. Its children are forked from it and inherit this module as it is, so a
worker can tell whether its parent is still the forkserver (see `lifeline.forkserver_pid`)."""
