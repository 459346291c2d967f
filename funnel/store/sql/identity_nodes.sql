-- identity_nodes: every id a tool uses for a person, with its e-mail and whether it is anonymous.
-- Grain: one row per node (an id in lead_id of the imported stage entries, activities or deals, or named
-- by an identity row). Params: $junk (e-mail values that never join people, lower-case).
with ids as (
    select lead_id as node from raw.stage_events
    union select lead_id from raw.activities
    union select lead_id from raw.deals where lead_id is not null
    union select tool_id from raw.identity_links
    union select key_value from raw.identity_links where key_kind in ('user', 'alias', 'anonymous_id')
),

carried as (  -- the e-mails a node carries: its own e-mail rows, or the id itself when it is an e-mail
    select tool_id as node, lower(trim(key_value)) as email from raw.identity_links where key_kind = 'email'
    union select node, lower(trim(node)) from ids
),

valid as (
    select node, email from carried
    where regexp_full_match(email, '[^@\s]+@[^@\s]+\.[^@\s.]+[^@\s]*') and not list_contains($junk, email)
),

emails as (
    select node, min(email) as email, count(distinct email) as emails from valid group by node
),

anonymous as (
    select tool_id as node from raw.identity_links where key_kind = 'anonymous'
    union select key_value from raw.identity_links where key_kind = 'anonymous_id'
),

names as (  -- a full name the tool gave for the person (joins a lead only by a unique name)
    select tool_id as node, min(lower(trim(regexp_replace(key_value, '\s+', ' ', 'g')))) as name
    from raw.identity_links where key_kind = 'name' group by 1
),

named as (
    select tool_id as node from raw.identity_links where key_kind in ('email', 'user', 'name')
    union select key_value from raw.identity_links where key_kind = 'user'
    union select node from emails
),

final as (
    select i.node, e.email, coalesce(e.emails, 0) as emails, nm.name,
           (a.node is not null and n.node is null) as anonymous
    from ids i
    left join emails e on e.node = i.node
    left join anonymous a on a.node = i.node
    left join named n on n.node = i.node
    left join names nm on nm.node = i.node
    where i.node is not null
)

select * from final
