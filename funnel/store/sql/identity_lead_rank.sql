-- identity_lead_rank: the order in which leads win a contested key (an e-mail, name or device on several
-- leads): the first created wins, or the last created under the "last_created" rule.
-- Grain: one row per lead of the imported leads table. Columns: label (the lead id), rank (1 wins).
-- Params: $newest_first (true for the "last_created" rule).
with

final as (
    select lead_id as label,
           row_number() over (
               order by case when $newest_first then epoch_us(created_at) * -1 else epoch_us(created_at) end
                        nulls last,
                        lead_id
           ) as rank
    from raw.leads
)

select * from final
