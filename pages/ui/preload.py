"""Modules that plotly reads from `sys.modules` without importing them, imported in full before a page runs.

When a figure is serialised, plotly checks its values against `sys.modules.get("pandas")` (and numpy and
PIL.Image) without importing them. On a fresh server, sessions run in threads at the same time: while one
thread is still executing `import pandas` (Streamlit imports it lazily for a dataframe), another thread's
figure finds the half-initialised module and fails with "partially initialized module 'pandas' has no
attribute 'Series'" (seen once in four runs of the 20-session sign-in test). An `import` statement waits for
another thread's import of the same module to finish, and app.py imports this module before any page runs: no
page reaches plotly while one of them is half-imported."""

import numpy  # noqa: F401
import pandas  # noqa: F401
import PIL.Image  # noqa: F401
