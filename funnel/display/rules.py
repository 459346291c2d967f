"""The settings in force, as the Rules page lists them."""

from __future__ import annotations

import polars as pl

from funnel.config import Settings


def settings_summary(settings: Settings) -> pl.DataFrame:
    """setting, value: the settings a person checks first, as text."""
    return pl.DataFrame({
        "setting": ["conversion window (days)", "skipped stages", "reactivation after (days)", "recycle returns to",
                    "high fit at", "high intent at", "intent half-life (days)", "ideal customer profiles",
                    "lifecycle ladder", "funnel ladder"],
        "value": [str(settings.conversion.window_days), settings.conversion.skipped_stages,
                  str(settings.funnel_rules.reactivation_after_days), settings.funnel_rules.recycle_stage,
                  f"{settings.fit.high_threshold:g}", f"{settings.intent.high_threshold:g}",
                  f"{settings.intent.half_life_days:g}", ", ".join(i.name for i in settings.fit.icps),
                  " → ".join(settings.ladders.lifecycle), " → ".join(settings.ladders.funnel)],
    })


def version_text(versions: pl.DataFrame, version: int) -> str:
    """The TOML of one saved version of a `saved_versions` frame."""
    return versions.filter(pl.col("version") == version).get_column("toml")[0]
