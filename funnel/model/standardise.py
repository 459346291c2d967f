"""Standard forms of the values a CRM holds loosely: match keys for people and companies (e-mail,
web domain, company and person names, phone numbers) and one spelling for countries, US/Canadian
states, job functions and industries.

The match keys are for suggesting merges in the CRM (`funnel.analyses.duplicates`); they go
further than the identity join (plus-tags and Gmail dots are dropped, company legal suffixes too),
so they live here under their own names (`hygiene_email_key`, `hygiene_domain_key`, …).

Libraries, not hand-written similarity, where a maintained one exists: rapidfuzz scores misspelt
industries; `phonenumbers` (Google's
libphonenumber) parses and formats phone numbers as E.164; `pycountry` (the ISO 3166 database)
names countries and their subdivisions. Each value is looked up once per distinct value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

import phonenumbers
import polars as pl
import pycountry
from rapidfuzz import fuzz, process

__all__ = [
    "FREE_MAIL_DOMAINS",
    "INDUSTRIES",
    "JOB_FUNCTIONS",
    "LEGAL_SUFFIXES",
    "country_code",
    "hygiene_company_key",
    "hygiene_domain_key",
    "hygiene_email_key",
    "hygiene_name_key",
    "hygiene_phone_key",
    "industry_of",
    "job_function_of",
    "phone_national",
    "state_code",
]

# E-mail providers whose domain says nothing about the employer.
FREE_MAIL_DOMAINS: tuple[str, ...] = (
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "hotmail.com", "hotmail.co.uk", "outlook.com",
    "live.com", "msn.com", "icloud.com", "me.com", "aol.com", "proton.me", "protonmail.com", "gmx.de", "gmx.net",
    "web.de", "mail.ru", "yandex.ru", "qq.com", "163.com",
)
_GMAIL = ("gmail.com", "googlemail.com")

# Legal forms dropped from the end of a company name before names are compared.
LEGAL_SUFFIXES: tuple[str, ...] = (
    "inc", "incorporated", "llc", "llp", "lp", "ltd", "limited", "plc", "corp", "corporation", "co", "company",
    "gmbh", "ag", "kg", "sa", "sas", "sarl", "srl", "spa", "bv", "nv", "oy", "ab", "as", "pty", "pte", "kk",
)
_LEGAL_TAIL = r"(\s+(" + "|".join(LEGAL_SUFFIXES) + r"))+$"
# Second-level labels under which companies register (acme.co.uk, acme.com.au): kept with the TLD.
_SECOND_LEVEL = ("co", "com", "org", "net", "ac", "gov", "edu", "ltd", "plc", "ne", "or", "gob")
# Letters NFKD leaves whole.
_UNDECOMPOSED = {"ø": "o", "ł": "l", "æ": "ae", "œ": "oe", "ß": "ss", "đ": "d", "ð": "d", "þ": "th", "ı": "i"}


def _plain(text: pl.Expr) -> pl.Expr:
    """Lower case, accents stripped (including ø, ł, æ, ß)."""
    lowered = text.str.to_lowercase().str.normalize("NFKD").str.replace_all(r"\p{M}", "")
    return lowered.str.replace_many(list(_UNDECOMPOSED), list(_UNDECOMPOSED.values()))


def hygiene_email_key(email: pl.Expr) -> pl.Expr:
    """The address a person means: spaces dropped, lower case, `+tag` dropped, dots dropped for
    Gmail (googlemail.com read as gmail.com); null when it is not `local@domain`."""
    parts = email.str.replace_all(r"\s", "").str.to_lowercase().str.split("@")
    local = parts.list.first().str.split("+").list.first()
    domain = parts.list.last().str.strip_chars(".")
    domain = pl.when(domain == "googlemail.com").then(pl.lit("gmail.com")).otherwise(domain)
    local = pl.when(domain == "gmail.com").then(local.str.replace_all(".", "", literal=True)).otherwise(local)
    valid = (parts.list.len() == 2) & (local.str.len_bytes() > 0) & domain.str.contains(".", literal=True)
    return pl.when(valid).then(pl.concat_str(local, pl.lit("@"), domain)).otherwise(None)


def hygiene_domain_key(value: pl.Expr) -> pl.Expr:
    """The registrable web domain of a website, domain or e-mail address: lower case, no scheme,
    path, port or `www.`, subdomains dropped (`eu.shop.acme.co.uk` → `acme.co.uk`)."""
    host = (value.str.strip_chars().str.to_lowercase().str.replace(r"^.*@", "")
            .str.replace(r"^[a-z][a-z0-9+.-]*://", "").str.replace(r"[/?#].*$", "").str.replace(r":\d+$", "")
            .str.strip_chars("."))
    labels = host.str.split(".")
    n = labels.list.len()
    keep_three = (n >= 3) & labels.list.get(-1, null_on_oob=True).str.len_chars().eq(2) & \
        labels.list.get(-2, null_on_oob=True).is_in(_SECOND_LEVEL)
    tail = pl.when(keep_three).then(labels.list.slice(-3, 3)).otherwise(labels.list.slice(-2, 2))
    joined = tail.list.join(".")
    return pl.when((n >= 2) & host.str.contains(r"^[a-z0-9.-]+$")).then(joined).otherwise(None)


def hygiene_company_key(name: pl.Expr) -> pl.Expr:
    """A company name for comparing: lower case, no accents or punctuation, `&` as `and`, a leading
    `the` and trailing legal forms dropped ("ACME, Inc." and "Acme Inc" both give `acme`)."""
    text = _plain(name).str.replace_all("&", " and ").str.replace_all(r"[^\p{L}\p{N}]+", " ").str.strip_chars()
    text = text.str.replace(r"^the\s+", "").str.replace(_LEGAL_TAIL, "").str.strip_chars()
    return pl.when(text.str.len_chars() > 0).then(text).otherwise(None)


def hygiene_name_key(name: pl.Expr) -> pl.Expr:
    """A person's name for comparing: lower case, no accents or punctuation, single spaces."""
    text = _plain(name).str.replace_all(r"[^\p{L}\p{N}]+", " ").str.strip_chars()
    return pl.when(text.str.len_chars() > 0).then(text).otherwise(None)


def _mapped(values: pl.Series, lookup: Callable[[str], str | None], *, name: str) -> pl.Series:
    """`lookup` applied once per distinct non-null value."""
    distinct = values.drop_nulls().unique()
    found = pl.Series([lookup(v) for v in distinct.to_list()], dtype=pl.String)
    return values.replace_strict(distinct, found, default=None, return_dtype=pl.String).alias(name)


def hygiene_phone_key(phones: pl.Series, regions: pl.Series | None = None) -> pl.Series:
    """Phone numbers as E.164 (`+14155550123`), parsed by libphonenumber with the lead's ISO
    country as the region for numbers without `+`; null when not a valid number."""
    regions = regions if regions is not None else pl.Series([None] * phones.len(), dtype=pl.String)
    pairs = pl.DataFrame({"p": phones.cast(pl.String), "r": regions.cast(pl.String)})
    keyed = pairs.select(pl.concat_str(pl.col("r").fill_null(""), pl.lit("|"), pl.col("p")).alias("k")).to_series()
    return _mapped(keyed.set(pairs["p"].is_null(), None), _e164, name="phone_key")


def phone_national(phones: pl.Series, regions: pl.Series) -> pl.Series:
    """Phone numbers in their country's national format ("(415) 555-2671" in the US), for rows
    whose ISO country is known and whose number belongs to it; null otherwise. Unlike E.164 it never
    starts with "+", so it survives a formula-safe CSV unchanged."""
    pairs = pl.DataFrame({"p": phones.cast(pl.String), "r": regions.cast(pl.String)})
    keyed = pairs.select(pl.concat_str(pl.col("r"), pl.lit("|"), pl.col("p")).alias("k")).to_series()
    return _mapped(keyed, _national, name="phone_national")


def _parsed(keyed: str) -> phonenumbers.PhoneNumber | None:
    region, _, raw = keyed.partition("|")
    try:
        number = phonenumbers.parse(raw, region or None)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


@lru_cache(maxsize=65536)
def _e164(keyed: str) -> str | None:
    number = _parsed(keyed)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) if number else None


@lru_cache(maxsize=65536)
def _national(keyed: str) -> str | None:
    number = _parsed(keyed)
    region = keyed.partition("|")[0]
    if number is None or phonenumbers.region_code_for_number(number) != region:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


# Spellings pycountry does not know (lower case, no dots) → ISO 3166-1 alpha-2.
_COUNTRY_ALIASES: dict[str, str] = {
    "usa": "US", "us": "US", "u s a": "US", "u s": "US", "united states of america": "US", "america": "US",
    "uk": "GB", "u k": "GB", "great britain": "GB", "britain": "GB", "england": "GB", "scotland": "GB",
    "wales": "GB", "northern ireland": "GB", "deutschland": "DE", "holland": "NL", "the netherlands": "NL",
    "españa": "ES", "espana": "ES", "brasil": "BR", "méxico": "MX", "russia": "RU", "south korea": "KR",
    "korea": "KR", "uae": "AE", "czech republic": "CZ", "türkiye": "TR", "turkey": "TR", "viet nam": "VN",
    "vietnam": "VN", "iran": "IR", "bolivia": "BO", "venezuela": "VE", "tanzania": "TZ", "taiwan": "TW",
}


@lru_cache(maxsize=4096)
def _country(raw: str) -> str | None:
    key = " ".join(raw.replace(".", " ").split()).lower()
    if not key:
        return None
    if key in _COUNTRY_ALIASES:
        return _COUNTRY_ALIASES[key]
    try:
        return pycountry.countries.lookup(key).alpha_2
    except LookupError:
        return None


def country_code(values: pl.Series) -> pl.Series:
    """ISO 3166-1 alpha-2 code of each country name or code ("United States", "usa", "U.S.",
    "DEU" → US, US, US, DE); null when pycountry and the alias list do not know it."""
    return _mapped(values.cast(pl.String), _country, name="country_code")


def country_name(codes: pl.Series) -> pl.Series:
    """The ISO 3166 short name of each alpha-2 code ("US" → "United States")."""
    return _mapped(codes.cast(pl.String), lambda c: getattr(pycountry.countries.get(alpha_2=c), "name", None),
                   name="country_name")


@lru_cache(maxsize=4096)
def _state(keyed: str) -> str | None:
    country, _, raw = keyed.partition("|")
    key = " ".join(raw.replace(".", " ").split()).lower()
    if country not in ("US", "CA") or not key:
        return None
    for sub in pycountry.subdivisions.get(country_code=country) or ():
        short = sub.code.split("-", 1)[1].lower()
        if key in (short, sub.name.lower(), sub.code.lower()):
            return sub.code.split("-", 1)[1]
    return {"newfoundland": "NL", "quebec": "QC", "washington dc": "DC", "d c": "DC"}.get(key)


def state_code(states: pl.Series, countries: pl.Series) -> pl.Series:
    """The two-letter code of a US state or Canadian province ("California", "ca" → CA;
    "Québec" → QC) given each row's ISO country; null outside the US and Canada or when unknown."""
    keyed = pl.DataFrame({"c": countries.cast(pl.String), "s": states.cast(pl.String)}).select(
        pl.concat_str(pl.col("c").fill_null(""), pl.lit("|"),
                      _plain(pl.col("s")).str.replace_all(r"[^\p{L}\p{N}. ]+", " "))).to_series()
    return _mapped(keyed, _state, name="state_code")


# Job functions and the title words that name them (whole words, case-insensitive); first match wins.
JOB_FUNCTIONS: dict[str, tuple[str, ...]] = {
    "Marketing": ("marketing", "cmo", "demand generation", "growth", "brand", "content", "seo"),
    "Sales": ("sales", "cro", "account executive", "ae", "sdr", "bdr", "business development", "revenue"),
    "Engineering": ("engineering", "engineer", "cto", "developer", "software", "devops"),
    "IT": ("it", "information technology", "cio", "systems", "infrastructure", "security"),
    "Finance": ("finance", "cfo", "accounting", "controller", "treasury", "financial"),
    "Operations": ("operations", "coo", "ops", "supply chain", "logistics", "procurement"),
    "People": ("people", "hr", "human resources", "talent", "recruiting", "chro"),
    "Product": ("product", "cpo", "ux", "design"),
    "Customer success": ("customer success", "support", "customer service", "account manager"),
    "Executive": ("ceo", "founder", "co-founder", "owner", "president", "managing director", "general manager"),
}


def job_function_of(title: pl.Expr) -> pl.Expr:
    """The job function a title names (JOB_FUNCTIONS, first match in its order); null when none."""
    result = pl.lit(None, dtype=pl.String)
    for function, words in reversed(list(JOB_FUNCTIONS.items())):
        pattern = r"(?i)\b(?:" + "|".join(r"\s+".join(re.escape(p) for p in w.split()) for w in words) + r")\b"
        result = pl.when(title.str.contains(pattern)).then(pl.lit(function)).otherwise(result)
    return result


# One industry list, and the spellings of HubSpot, Salesforce, LinkedIn and enrichment tools that mean each.
INDUSTRIES: dict[str, tuple[str, ...]] = {
    "Software": ("software", "saas", "computer software", "internet", "technology", "information technology",
                 "information technology and services", "it services", "tech"),
    "Financial Services": ("financial services", "finance", "banking", "bank", "insurance", "fintech",
                           "investment management", "capital markets", "accounting"),
    "Healthcare": ("healthcare", "health care", "hospital and health care", "hospital health care", "medical",
                   "medical devices", "pharmaceuticals", "biotechnology", "health"),
    "Manufacturing": ("manufacturing", "industrial", "machinery", "automotive", "electronics",
                      "industrial automation", "chemicals"),
    "Retail": ("retail", "consumer goods", "e commerce", "ecommerce", "wholesale", "apparel and fashion"),
    "Education": ("education", "higher education", "e learning", "education management", "primary secondary education"),
    "Professional Services": ("professional services", "consulting", "management consulting", "legal",
                              "law practice", "marketing and advertising", "staffing and recruiting"),
    "Media": ("media", "entertainment", "publishing", "broadcast media", "online media", "media production"),
    "Logistics": ("logistics", "transportation", "logistics and supply chain", "transportation trucking railroad",
                  "shipping"),
    "Energy": ("energy", "utilities", "oil and energy", "oil gas", "renewables"),
    "Government": ("government", "public sector", "government administration", "non profit", "nonprofit",
                   "non profit organization management"),
    "Real Estate": ("real estate", "construction", "commercial real estate"),
    "Telecommunications": ("telecommunications", "telecom", "wireless"),
    "Hospitality": ("hospitality", "hospitality and leisure", "restaurants", "travel", "leisure travel tourism"),
}
_INDUSTRY_LOOKUP = {w: canonical for canonical, words in INDUSTRIES.items() for w in (canonical.lower(), *words)}


@lru_cache(maxsize=4096)
def _industry(raw: str) -> str | None:
    key = " ".join(re.sub(r"[^0-9a-z]+", " ", raw.lower().replace("&", " and ")).split())
    if key in _INDUSTRY_LOOKUP:
        return _INDUSTRY_LOOKUP[key]
    best = process.extractOne(key, list(_INDUSTRY_LOOKUP), scorer=fuzz.ratio, score_cutoff=88)
    return _INDUSTRY_LOOKUP[best[0]] if best else None


def industry_of(values: pl.Series) -> pl.Series:
    """Each industry spelling on the one list (INDUSTRIES: "COMPUTER_SOFTWARE", "SaaS" → Software),
    a misspelling by rapidfuzz's ratio ≥ 88 to a known spelling ("Helthcare"); null otherwise."""
    return _mapped(values.cast(pl.String), _industry, name="industry_standard")
