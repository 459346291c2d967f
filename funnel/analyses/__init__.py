"""The four core analyses (distribution, conversion, aging, segments) and the rows behind them.

Every function takes a connection, the shared `Filters` and the `Settings`, computes as of
`filters.as_of` (never the clock) and returns a tidy Polars frame whose docstring states its grain.
Each also has an `…_of(inputs, …)` form that works on one `analysis_inputs(...)` preparation, so a
caller needing several metrics reads the store once. May import the model, the store and the foundation.
"""

from funnel.analyses.aging import (
                                   aging_buckets,
                                   aging_buckets_of,
                                   aging_leads,
                                   aging_leads_of,
                                   stage_aging,
                                   stage_aging_of,
)
from funnel.analyses.conversion import (
                                   OUTCOMES,
                                   conversion_cohorts,
                                   conversion_cohorts_of,
                                   conversion_entries_of,
                                   cumulative_conversion,
                                   cumulative_conversion_of,
                                   deal_losses,
                                   previous_period,
                                   stage_conversion,
                                   stage_conversion_of,
                                   time_to_convert,
                                   time_to_convert_curve,
                                   time_to_convert_curve_of,
                                   time_to_convert_of,
)
from funnel.analyses.distribution import (
                                   current_stages_of,
                                   distribution_trend,
                                   distribution_trend_of,
                                   month_ends,
                                   stage_distribution,
                                   stage_distribution_of,
                                   stage_flows,
                                   stage_flows_of,
)
from funnel.analyses.drilldown import KINDS, NO_STAGE, leads_behind
from funnel.analyses.inputs import AnalysisInputs, analysis_inputs
from funnel.analyses.segments import (
                                   lead_deals,
                                   reported_stages,
                                   segment_leads_of,
                                   segment_performance,
                                   segment_performance_of,
                                   weak_segment_warning,
)

__all__ = [
    "KINDS", "NO_STAGE", "OUTCOMES", "AnalysisInputs", "aging_buckets", "aging_buckets_of", "aging_leads",
    "aging_leads_of", "analysis_inputs", "conversion_cohorts", "conversion_cohorts_of", "conversion_entries_of",
    "cumulative_conversion", "cumulative_conversion_of", "current_stages_of", "deal_losses",
    "distribution_trend", "distribution_trend_of", "lead_deals", "leads_behind", "month_ends",
    "previous_period", "reported_stages", "segment_leads_of", "segment_performance", "segment_performance_of",
    "stage_aging", "stage_aging_of", "stage_conversion", "stage_conversion_of", "stage_distribution",
    "stage_distribution_of", "stage_flows", "stage_flows_of", "time_to_convert", "time_to_convert_curve",
    "time_to_convert_curve_of", "time_to_convert_of", "weak_segment_warning",
]
