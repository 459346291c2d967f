-- Deals with their account's dimensions, as of D.
-- Grain: deal_id (deals created by the end of D). Columns: deal_id, owner, product, pipeline,
-- industry, country, size_band, source (the lead's), account_id (the deal's, else its lead's), attribute
-- (the custom attribute $attribute of the account, else of the lead; null without $attribute), amount,
-- closed (closed at or before D), won (null while open at D), cycle_days (created → closed, or → D while
-- open: censored).
-- Params: $until (the end of day D), $as_of (D), $bands, $band_labels (size bands as in lead_dimensions),
-- $attribute (a custom attribute key, or null).
with

dealt as (
    select * from deals where deal_id is not null and created_at is not null and created_at < $until
),

joined as (
    select d.deal_id, d.owner, d.product, d.pipeline, d.amount, d.created_at, d.closed_at, d.won,
           coalesce(a.industry, l.industry) as industry,
           coalesce(a.country, l.country) as country,
           coalesce(a.employees, l.employees) as employees,
           l.source,
           coalesce(d.account_id, l.account_id) as account_id,
           case when $attribute is not null
                then coalesce(map_extract_value(a.attributes, $attribute),
                              map_extract_value(l.attributes, $attribute)) end as attribute
    from dealt as d
    left join leads as l on l.lead_id = d.lead_id
    left join accounts as a on a.account_id = coalesce(d.account_id, l.account_id)
),

final as (
    select deal_id, owner, product, pipeline, industry, country,
           case when employees is not null
                then $band_labels[1 + len(list_filter($bands, lambda b: b < employees))] end as size_band,
           source, account_id, attribute, amount,
           closed_at is not null and closed_at < $until and won is not null as closed,
           case when closed_at is not null and closed_at < $until then won end as won,
           date_diff('day', created_at::date,
                     case when closed_at is not null and closed_at < $until then closed_at::date else $as_of end)
               as cycle_days
    from joined
)

select * from final
