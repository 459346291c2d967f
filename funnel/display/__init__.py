"""Metric frames turned into the tables a person reads (the Overview's KPIs, period comparisons, the readable
segment table). Pure Polars; may import analyses, model and the foundation."""
