-- identity_accounts: the CRM's accounts with enrichment (Clearbit, ZoomInfo, Apollo exports) merged in
-- by normalised domain: the CRM's value stays where both have one (unless $enrichment_wins); enrichment
-- rows matching no CRM account stay accounts of their own.
-- Grain: one row per account. Params: $sources (mapping names of enrichment), $enrichment_wins.
with accounts as (
    select a.*,
           regexp_extract(lower(trim(coalesce(a.domain, ''))), '^(?:https?://)?(?:www\.)?([^/:?#\s]+)', 1)
               as norm_domain,
           list_contains($sources, coalesce(i.mapping, '')) as is_enrichment
    from raw.accounts a
    left join main.imports i on i.import_id = a._import_id
),

crm as (
    select * from accounts where not is_enrichment
),

enrichment as (  -- the newest enrichment row per domain (or per id when it has no domain)
    select *, coalesce(nullif(norm_domain, ''), lower(account_id)) as join_domain
    from accounts
    where is_enrichment
    qualify row_number() over (partition by join_domain order by _import_id desc, _source_row) = 1
),

merged as (
    select c.* exclude (norm_domain, is_enrichment) replace (
        coalesce(c.name, e.name) as name,
        coalesce(c.domain, e.domain) as domain,
        case when $enrichment_wins then coalesce(e.industry, c.industry) else coalesce(c.industry, e.industry) end
            as industry,
        case when $enrichment_wins then coalesce(e.employees, c.employees) else coalesce(c.employees, e.employees) end
            as employees,
        case when $enrichment_wins then coalesce(e.annual_revenue, c.annual_revenue)
             else coalesce(c.annual_revenue, e.annual_revenue) end as annual_revenue,
        case when $enrichment_wins then coalesce(e.country, c.country) else coalesce(c.country, e.country) end
            as country)
    from crm c
    left join enrichment e on e.join_domain = c.norm_domain and c.norm_domain <> ''
),

unmatched_enrichment as (
    select e.* exclude (norm_domain, is_enrichment, join_domain)
    from enrichment e
    where not exists (select 1 from crm c where c.norm_domain = e.join_domain and c.norm_domain <> '')
),

final as (
    select * from merged
    union all by name
    select * from unmatched_enrichment
)

select * from final
