"""Messages of the source-profile mapper (tests import these)."""

PROFILE_UNKNOWN = 'There is no source profile named "{name}"; see `mobility tracking_profiles list`.'
PROFILE_INVALID = "The profile is not valid: {reason}"
PROFILE_COLUMN_MISSING = 'the workbook has no column "{column}" (mapped to {field}); it has: {columns}'
PROFILE_NO_FIGURE = "map at least one households or individuals column"
PROFILE_NO_PLACE = "map the place column for level {level}: {fields}"
NUMBER_INVALID = '"{value}" is not a whole number'
NUMBER_NEGATIVE = '"{value}" is negative'
NUMBER_TOO_LARGE = '"{value}" is larger than any count (at most 2,147,483,647)'
DATE_INVALID = '"{value}" is not a date (write 2024-03-31)'
PCODE_UNMATCHED = (
    '"{value}" is not in the {country} gazetteer and its name could not be matched; added to the review list'
)
PLACE_MISSING = "no {what}: the row says nothing about where it is"
DUPLICATE_PLACE = "{place} already appears in row {first} with different figures"
ROUND_UNKNOWN = "Operation {operation} has no round {number}; create it first (mobility rounds create)."
OPERATION_MISSING = "Say which operation the file belongs to."
COUNTRY_MISSING = "The profile names no country and the operation has none."
WARN_PCODE_REPLACED = (
    "{count} row(s): workbook p-codes not in the {country} gazetteer were matched by name ({examples})"
)
WARN_CODE_KEPT = "{count} row(s): admin{level} codes are kept as the workbook has them (the {country} gazetteer has no admin{level} areas)"
WARN_TOTALS_SKIPPED = "{count} totals row(s) skipped, not counted as places: rows {rows}"
WARN_SADD_DROPPED = "{count} row(s): the sex and age parts did not add up and were left out ({first})"

WARN_RENUMBERED = (
    "{count} row(s) repeat another row's place code with other figures; kept as separate places: {examples}"
)
WARN_SITE_KEYED = "{count} site(s) have no code and are keyed by their area and name (e.g. {example})"

PROFILE_BUILTIN_READONLY = (
    'The profile "{name}" is shipped with Mobility and cannot be changed; save under another name.'
)
