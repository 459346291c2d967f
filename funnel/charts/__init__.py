"""Plotly figure builders, one theme for all. Pure functions from metric frames to figures; may import the
model's labels and the foundation."""
