-- The lead model's stored first views (model_content_views: content_first_views.sql run to the horizon) cut at
-- day D: the views before the end of D, and each stay's next entry only when it came before the end of D (a
-- stay whose next entry came later is still open at D).
-- Grain: one row per stay and content type viewed during it by the end of D. Columns: those of
-- content_first_views.sql.
-- Relations: {content_views} (the stored table). Params: $until (the first moment after day D).
with

final as (
    select lead_id, stage, stage_rank, entered_at,
           case when next_at < $until then next_at end as next_at,
           case when next_at < $until then next_rank end as next_rank,
           case when next_at < $until then next_side end as next_side,
           activity_type, viewed_at
    from {content_views}
    where viewed_at < $until
)

select * from final
