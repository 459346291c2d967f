-- identity_edges: pairs of ids a tool recorded as the same person, and how (both directions).
-- Grain: one row per ordered pair of nodes and link kind. Params: none.
with named as (  -- a user id, an alias (another id, e.g. a CRM id) or an anonymous id the tool linked
    select tool_id as a, key_value as b, key_kind as via from raw.identity_links
    where key_kind in ('user', 'alias', 'anonymous_id')
),

devices as (  -- ids seen on the same device, or sharing the tool's own person key
    select d1.tool_id as a, d2.tool_id as b, case when d1.key_kind = 'device' then 'device' else 'person' end as via
    from raw.identity_links d1
    join raw.identity_links d2 on d2.key_value = d1.key_value and d2.key_kind = d1.key_kind
    where d1.key_kind in ('device', 'person') and d1.tool_id <> d2.tool_id
),

final as (
    select a, b, via from named
    union select b, a, via from named
    union select a, b, via from devices
)

select * from final where a <> b
