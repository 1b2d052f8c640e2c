"""The allow-list: every Trino function, whether lakebox runs it, how, and where Trino documents it.

lakebox runs a Trino function only when it is listed here as supported (``SUPPORTED``), with the argument
counts whose translation has been checked against Trino's documented behaviour; every other call is refused
before DuckDB sees the query (``trino_allow``):

- a Trino function lakebox does not run, or runs only with other argument counts, fails with
  ``NOT_SUPPORTED`` naming it (``REFUSED`` gives the reason shown in ``tests/conformance/UNSUPPORTED.md``);
- a function Athena engine v3 does not have (``NOT_IN_ATHENA``) or that Trino does not have at all fails with
  ``FUNCTION_NOT_FOUND: Function 'f' not registered``, as Athena says it;

so no call can fall through to a DuckDB function that merely shares the name (DuckDB's ``timezone(ts)`` is
not Trino's). The cases that verify each supported function are the conformance cases that call it
(``tests/conformance/cases`` and the oracle in ``tests/conformance/oracle``); ``tests/conformance/
test_allowlist.py`` checks that each supported function has at least one, and ``scripts/gen_functions.py``
writes ``docs/functions.md`` and ``UNSUPPORTED.md`` from this table.

``EXPECTED`` holds Trino's own signature text for the functions whose argument types lakebox checks, the one
source of every "Unexpected parameters for function f. Expected: ..." message.
"""

from __future__ import annotations

from dataclasses import dataclass

EXPECTED: dict[str, str] = {
    "date_format": "date_format(timestamp(p), varchar(x)) , date_format(timestamp(p) with time zone, varchar(x))",
    "format_datetime": "format_datetime(timestamp(p), varchar(x)) , "
                       "format_datetime(timestamp(p) with time zone, varchar(x))",
    "date_trunc": "date_trunc(varchar(x), date) , date_trunc(varchar(x), time(p)) , "
                  "date_trunc(varchar(x), timestamp(p)) , date_trunc(varchar(x), timestamp(p) with time zone)",
    "to_unixtime": "to_unixtime(timestamp(p)) , to_unixtime(timestamp(p) with time zone)",
    "date_add": "date_add(varchar(x), bigint, date) , date_add(varchar(x), bigint, timestamp(p)) , "
                "date_add(varchar(x), bigint, timestamp(p) with time zone)",
    "date_diff": "date_diff(varchar(x), date, date) , date_diff(varchar(x), timestamp(p), timestamp(p)) , "
                 "date_diff(varchar(x), timestamp(p) with time zone, timestamp(p) with time zone)",
}

@dataclass(frozen=True)
class Supported:
    """A Trino function lakebox runs: its docs page, the argument counts it runs with (None: any) and how."""

    name: str
    page: str
    arities: frozenset[int] | None
    translation: str

@dataclass(frozen=True)
class Refused:
    """A Trino function lakebox refuses with NOT_SUPPORTED, and why."""

    name: str
    page: str
    reason: str

def _arities(text: str) -> frozenset[int] | None:
    return None if text == "*" else frozenset(int(a) for a in text.split(","))

# name | page | argument counts ("*": any) | translation
_SUPPORTED_TEXT = """
abs | math | 1 | DuckDB abs (same type)
acos | math | 1 | DuckDB acos
asin | math | 1 | DuckDB asin
atan | math | 1 | DuckDB atan
atan2 | math | 2 | DuckDB atan2
cbrt | math | 1 | exact on perfect cubes (Java's Math.cbrt), else DuckDB cbrt
ceil | math | 1 | same type as the argument (typed macro)
ceiling | math | 1 | as ceil
cos | math | 1 | DuckDB cos
cosh | math | 1 | DuckDB cosh
degrees | math | 1 | DuckDB degrees
e | math | 0 | exp(1)
exp | math | 1 | DuckDB exp
floor | math | 1 | same type as the argument (typed macro)
infinity | math | 0 | CAST('Infinity' AS DOUBLE)
is_finite | math | 1 | DuckDB isfinite
is_infinite | math | 1 | DuckDB isinf
is_nan | math | 1 | DuckDB isnan
ln | math | 1 | DuckDB ln
log10 | math | 1 | DuckDB log10
log2 | math | 1 | DuckDB log2
mod | math | 2 | as the % operator (DIVISION_BY_ZERO on integers)
nan | math | 0 | CAST('NaN' AS DOUBLE)
pi | math | 0 | DuckDB pi
pow | math | 2 | DuckDB pow (double)
power | math | 2 | DuckDB power (double)
radians | math | 1 | DuckDB radians
rand | math | 0 | DuckDB random
random | math | 0 | DuckDB random
round | math | 1,2 | DuckDB round, half away from zero; decimal(p,s) -> decimal(p+1,s)
sign | math | 1 | same type as the argument (typed macro)
sin | math | 1 | DuckDB sin
sinh | math | 1 | DuckDB sinh
sqrt | math | 1 | DuckDB sqrt
tan | math | 1 | DuckDB tan
tanh | math | 1 | DuckDB tanh
truncate | math | 1,2 | DuckDB trunc
bitwise_and | bitwise | 2 | DuckDB & on bigint
bitwise_or | bitwise | 2 | DuckDB | on bigint
bitwise_xor | bitwise | 2 | DuckDB xor on bigint
bitwise_not | bitwise | 1 | DuckDB ~ on bigint
bitwise_left_shift | bitwise | 2 | << on bigint, 0 from 64 bits
bitwise_right_shift | bitwise | 2 | logical >> on the 64-bit pattern, 0 from 64 bits
bitwise_right_shift_arithmetic | bitwise | 2 | >> on bigint, 0 or -1 from 64 bits
bit_count | bitwise | 2 | bit_count of the value as a bits-wide two's complement
chr | string | 1 | DuckDB chr
concat | string | * | || chain (NULL if any argument is NULL); arrays concatenated
concat_ws | string | * | DuckDB concat_ws (NULLs skipped), NULL separator gives NULL
ends_with | string | 2 | DuckDB ends_with
hamming_distance | string | 2 | DuckDB hamming
length | string | 1 | DuckDB length (bigint)
levenshtein_distance | string | 2 | DuckDB levenshtein
lower | string | 1 | DuckDB lower
lpad | string | 3 | DuckDB lpad
ltrim | string | 1 | DuckDB ltrim
position | string | 2 | DuckDB strpos
replace | string | 2,3 | DuckDB replace
reverse | string | 1 | DuckDB reverse (strings), list_reverse (arrays)
rpad | string | 3 | DuckDB rpad
rtrim | string | 1 | DuckDB rtrim
split | string | 2,3 | DuckDB str_split; with a limit, the rest kept in the last element (limit > 0)
split_part | string | 3 | NULL past the last field
starts_with | string | 2 | DuckDB starts_with
strpos | string | 2 | DuckDB strpos (bigint)
substr | string | 2,3 | Trino's start/length rules ('' for start 0)
substring | string | 2,3 | as substr
translate | string | 3 | DuckDB translate
trim | string | 1,2 | DuckDB trim
upper | string | 1 | DuckDB upper
regexp_count | regexp | 2 | DuckDB regexp_extract_all length
regexp_extract | regexp | 2,3 | NULL without a match
regexp_extract_all | regexp | 2,3 | DuckDB regexp_extract_all
regexp_like | regexp | 2 | DuckDB regexp_matches (contains)
regexp_replace | regexp | 2,3 | every match, $1 groups
regexp_split | regexp | 2 | DuckDB regexp_split_to_array
all_match | array | 2 | NULL logic of Trino (false wins, then NULL)
any_match | array | 2 | NULL logic of Trino (true wins, then NULL)
none_match | array | 2 | NULL logic of Trino
array_distinct | array | 1 | first occurrences, in order
array_except | array | 2 | first occurrences of x not in y, in order
array_intersect | array | 2 | first occurrences of x in y, in order
array_union | array | 2 | first occurrences of x then y, in order
array_join | array | 2,3 | NULL elements skipped or replaced
array_max | array | 1 | NULL if any element is NULL
array_min | array | 1 | NULL if any element is NULL
array_position | array | 2 | 0 when absent
array_remove | array | 2 | DuckDB list_filter
array_sort | array | 1,2 | NULLs last; with a comparator, a stable insertion sort by the lambda
arrays_overlap | array | 2 | NULL when no common element but a NULL present
cardinality | array | 1 | len (bigint)
contains | array | 2 | NULL when absent and a NULL present
element_at | array | 2 | NULL past the end (arrays) or for a missing key (maps)
filter | array | 2 | DuckDB list_filter
flatten | array | 1 | DuckDB flatten
reduce | array | 4 | DuckDB list_reduce with the output function applied
sequence | array | 2,3 | bigint/date sequences in both directions, with steps
shuffle | array | 1 | DuckDB list shuffle
slice | array | 3 | DuckDB list_slice
transform | array | 2 | DuckDB list_transform
zip_with | array | 3 | list_transform over the padded indexes
map | map | 0,2 | DuckDB map(keys, values)
map_keys | map | 1 | DuckDB map_keys
map_values | map | 1 | DuckDB map_values
map_filter | map | 2 | map_from_entries of the filtered entries
transform_keys | map | 2 | map_from_entries of the transformed entries
transform_values | map | 2 | map_from_entries of the transformed entries
coalesce | conditional | * | DuckDB coalesce
if | conditional | 2,3 | CASE
nullif | conditional | 2 | DuckDB nullif
try | conditional | 1 | DuckDB TRY
greatest | comparison | * | NULL if any argument is NULL
least | comparison | * | NULL if any argument is NULL
cast | conversion | 1 | checked target types (see docs/functions.md)
try_cast | conversion | 1 | as cast, NULL on failure
typeof | conversion | 1 | Trino's type names
current_date | datetime | 0 | DuckDB current_date
current_timestamp | datetime | 0 | DuckDB current_timestamp (the session zone is UTC, as in Athena)
now | datetime | 0 | as current_timestamp
date | datetime | 1 | CAST(x AS DATE)
date_add | datetime | 3 | typed macro per argument type
date_diff | datetime | 3 | whole units elapsed
date_format | datetime | 2 | MySQL specifiers translated to strftime
date_parse | datetime | 2 | MySQL specifiers translated to strptime, timestamp(3)
date_trunc | datetime | 2 | typed macro (DATE stays DATE)
day | datetime | 1 | DuckDB day
day_of_month | datetime | 1 | DuckDB day
day_of_week | datetime | 1 | isodow
day_of_year | datetime | 1 | DuckDB dayofyear
dow | datetime | 1 | isodow
doy | datetime | 1 | DuckDB dayofyear
extract | datetime | 1 | DuckDB extract; DOW is ISO
format_datetime | datetime | 2 | Joda patterns translated to strftime
from_iso8601_date | datetime | 1 | calendar, week and ordinal dates
from_iso8601_timestamp | datetime | 1 | UTC offsets only
from_unixtime | datetime | 1 | to_timestamp
hour | datetime | 1 | DuckDB hour
last_day_of_month | datetime | 1 | DuckDB last_day
millisecond | datetime | 1 | millisecond % 1000
minute | datetime | 1 | DuckDB minute
month | datetime | 1 | DuckDB month
parse_datetime | datetime | 2 | Joda patterns translated to strptime
quarter | datetime | 1 | DuckDB quarter
second | datetime | 1 | DuckDB second
to_unixtime | datetime | 1 | epoch
week | datetime | 1 | ISO week
week_of_year | datetime | 1 | ISO week
year | datetime | 1 | DuckDB year
year_of_week | datetime | 1 | isoyear
yow | datetime | 1 | isoyear
is_json_scalar | json | 1 | json_type is not ARRAY or OBJECT
json_array_length | json | 1 | DuckDB json_array_length, NULL unless an array
json_extract | json | 2 | DuckDB json_extract with the path translated (literal paths, no wildcards)
json_extract_scalar | json | 2 | DuckDB json_extract_string, NULL for arrays and objects
json_format | json | 1 | the JSON text, minified
json_parse | json | 1 | DuckDB json(): validated and minified
json_size | json | 2 | array length or number of keys, 0 for scalars, NULL for a missing path
url_extract_fragment | url | 1 | RFC 2396 split
url_extract_host | url | 1 | RFC 2396 split
url_extract_parameter | url | 2 | first parameter of the query string
url_extract_path | url | 1 | RFC 2396 split
url_extract_port | url | 1 | RFC 2396 split
url_extract_protocol | url | 1 | RFC 2396 split
url_extract_query | url | 1 | RFC 2396 split
url_encode | url | 1 | Java's URLEncoder (space as +)
url_decode | url | 1 | Java's URLDecoder (+ as space)

any_value | aggregate | 1 | DuckDB any_value
approx_distinct | aggregate | 1 | exact count(DISTINCT x)
approx_percentile | aggregate | 2 | exact quantile_disc (an input element)
arbitrary | aggregate | 1 | DuckDB any_value
array_agg | aggregate | 1 | DuckDB list (ORDER BY kept)
avg | aggregate | 1 | DuckDB avg; decimal stays decimal(p,s)
bool_and | aggregate | 1 | DuckDB bool_and
bool_or | aggregate | 1 | DuckDB bool_or
count | aggregate | 0,1 | DuckDB count (bigint)
count_if | aggregate | 1 | DuckDB count_if
every | aggregate | 1 | bool_and
grouping | aggregate | * | DuckDB grouping (the bit mask of GROUPING SETS, ROLLUP, CUBE)
listagg | aggregate | 1,2 | DuckDB string_agg WITHIN GROUP order
max | aggregate | 1 | DuckDB max
max_by | aggregate | 2 | DuckDB arg_max
min | aggregate | 1 | DuckDB min
min_by | aggregate | 2 | DuckDB arg_min
stddev | aggregate | 1 | DuckDB stddev_samp
stddev_pop | aggregate | 1 | DuckDB stddev_pop
stddev_samp | aggregate | 1 | DuckDB stddev_samp
sum | aggregate | 1 | bigint for integers, decimal(38,s) for decimals
var_pop | aggregate | 1 | DuckDB var_pop
var_samp | aggregate | 1 | DuckDB var_samp
variance | aggregate | 1 | DuckDB var_samp
cume_dist | window | 0 | DuckDB cume_dist
dense_rank | window | 0 | DuckDB dense_rank (bigint)
first_value | window | 1 | DuckDB first_value
lag | window | 1,2,3 | DuckDB lag
last_value | window | 1 | DuckDB last_value
lead | window | 1,2,3 | DuckDB lead
nth_value | window | 2 | DuckDB nth_value
ntile | window | 1 | DuckDB ntile
percent_rank | window | 0 | DuckDB percent_rank
rank | window | 0 | DuckDB rank (bigint)
row_number | window | 0 | DuckDB row_number (bigint)
"""

# name | page | reason (every Trino function not above and in Athena engine v3)
_REFUSED_TEXT = """
from_base | math | not implemented
to_base | math | not implemented
width_bucket | math | not implemented
wilson_interval_lower | math | not implemented
wilson_interval_upper | math | not implemented
beta_cdf | math | not implemented
inverse_beta_cdf | math | not implemented
inverse_normal_cdf | math | not implemented
normal_cdf | math | not implemented
cosine_similarity | math | not implemented
log | math | not implemented (argument order differs from DuckDB's log)
codepoint | string | not implemented
format | conversion | Java's Formatter is not implemented
format_number | conversion | not implemented
json | json | the JSON type is not implemented
row | conversion | row values are not implemented
from_utf8 | string | varbinary values are not implemented
to_utf8 | string | varbinary values are not implemented
luhn_check | string | not implemented
normalize | string | not implemented
soundex | string | not implemented
split_to_map | string | not implemented
split_to_multimap | string | not implemented
word_stem | string | not implemented
regexp_position | regexp | not implemented
array_histogram | array | not implemented
combinations | array | not implemented
contains_sequence | array | not implemented
ngrams | array | not implemented
repeat | array | not implemented
trim_array | array | not implemented
zip | array | row values are not implemented
map_concat | map | not implemented
map_entries | map | row values are not implemented
map_from_entries | map | row values are not implemented
map_zip_with | map | not implemented
multimap_from_entries | map | not implemented
current_time | datetime | time with time zone is not implemented
current_timezone | datetime | not implemented
localtime | datetime | not implemented
localtimestamp | datetime | not implemented
at_timezone | datetime | timestamp with time zone keeping its zone is not implemented
with_timezone | datetime | timestamp with time zone keeping its zone is not implemented
timezone_hour | datetime | timestamp with time zone keeping its zone is not implemented
timezone_minute | datetime | timestamp with time zone keeping its zone is not implemented
timezone | datetime | timestamp with time zone keeping its zone is not implemented
from_iso8601_timestamp_nanos | datetime | timestamp(9) is not implemented
from_unixtime_nanos | datetime | timestamp(9) is not implemented
human_readable_seconds | datetime | not implemented
parse_duration | datetime | not implemented
to_iso8601 | datetime | not implemented
to_milliseconds | datetime | not implemented
parse_data_size | conversion | not implemented
json_array_contains | json | the JSON type is not implemented
json_array_get | json | the JSON type is not implemented
json_query | json | the JSON path language is not implemented
json_value | json | the JSON path language is not implemented
json_exists | json | the JSON path language is not implemented
json_array | json | not implemented
json_object | json | not implemented
crc32 | binary | varbinary values are not implemented
md5 | binary | varbinary values are not implemented
from_base32 | binary | varbinary values are not implemented
from_base64 | binary | varbinary values are not implemented
from_base64url | binary | varbinary values are not implemented
from_big_endian_32 | binary | varbinary values are not implemented
from_big_endian_64 | binary | varbinary values are not implemented
from_hex | binary | varbinary values are not implemented
from_ieee754_32 | binary | varbinary values are not implemented
from_ieee754_64 | binary | varbinary values are not implemented
hmac_md5 | binary | varbinary values are not implemented
hmac_sha1 | binary | varbinary values are not implemented
hmac_sha256 | binary | varbinary values are not implemented
hmac_sha512 | binary | varbinary values are not implemented
murmur3 | binary | varbinary values are not implemented
sha1 | binary | varbinary values are not implemented
sha256 | binary | varbinary values are not implemented
sha512 | binary | varbinary values are not implemented
spooky_hash_v2_32 | binary | varbinary values are not implemented
spooky_hash_v2_64 | binary | varbinary values are not implemented
to_base32 | binary | varbinary values are not implemented
to_base64 | binary | varbinary values are not implemented
to_base64url | binary | varbinary values are not implemented
to_big_endian_32 | binary | varbinary values are not implemented
to_big_endian_64 | binary | varbinary values are not implemented
to_hex | binary | varbinary values are not implemented
to_ieee754_32 | binary | varbinary values are not implemented
to_ieee754_64 | binary | varbinary values are not implemented
xxhash64 | binary | varbinary values are not implemented
approx_most_frequent | aggregate | not implemented
approx_set | hyperloglog | HyperLogLog sketches are not implemented
empty_approx_set | hyperloglog | HyperLogLog sketches are not implemented
merge | hyperloglog | sketches are not implemented
bitwise_and_agg | aggregate | not implemented
bitwise_or_agg | aggregate | not implemented
bitwise_xor_agg | aggregate | not implemented
checksum | aggregate | not implemented
corr | aggregate | not verified
covar_pop | aggregate | not verified
covar_samp | aggregate | not verified
geometric_mean | aggregate | not verified
histogram | aggregate | map results are not verified
kurtosis | aggregate | not verified
map_agg | aggregate | map results are not verified
map_union | aggregate | not implemented
multimap_agg | aggregate | not implemented
numeric_histogram | aggregate | not implemented
qdigest_agg | qdigest | quantile digests are not implemented
reduce_agg | aggregate | not implemented
regr_intercept | aggregate | not verified
regr_slope | aggregate | not verified
skewness | aggregate | not verified
tdigest_agg | tdigest | t-digests are not implemented
value_at_quantile | qdigest | quantile digests are not implemented
values_at_quantiles | qdigest | quantile digests are not implemented
make_set_digest | setdigest | set digests are not implemented
merge_set_digest | setdigest | set digests are not implemented
cardinality_set_digest | setdigest | set digests are not implemented
intersection_cardinality | setdigest | set digests are not implemented
jaccard_index | setdigest | set digests are not implemented
hash_counts | setdigest | set digests are not implemented
st_area | geospatial | geometry values are not implemented
st_asbinary | geospatial | geometry values are not implemented
st_asewkb | geospatial | geometry values are not implemented
st_asewkt | geospatial | geometry values are not implemented
st_astext | geospatial | geometry values are not implemented
st_boundary | geospatial | geometry values are not implemented
st_buffer | geospatial | geometry values are not implemented
st_centroid | geospatial | geometry values are not implemented
st_collect | geospatial | geometry values are not implemented
st_contains | geospatial | geometry values are not implemented
st_convexhull | geospatial | geometry values are not implemented
st_coorddim | geospatial | geometry values are not implemented
st_crosses | geospatial | geometry values are not implemented
st_difference | geospatial | geometry values are not implemented
st_dimension | geospatial | geometry values are not implemented
st_disjoint | geospatial | geometry values are not implemented
st_distance | geospatial | geometry values are not implemented
st_endpoint | geospatial | geometry values are not implemented
st_envelope | geospatial | geometry values are not implemented
st_envelopeaspts | geospatial | geometry values are not implemented
st_equals | geospatial | geometry values are not implemented
st_exteriorring | geospatial | geometry values are not implemented
st_force2d | geospatial | geometry values are not implemented
st_force3d | geospatial | geometry values are not implemented
st_geometries | geospatial | geometry values are not implemented
st_geometryfromtext | geospatial | geometry values are not implemented
st_geometryn | geospatial | geometry values are not implemented
st_geometrytype | geospatial | geometry values are not implemented
st_geomfrombinary | geospatial | geometry values are not implemented
st_geomfromewkt | geospatial | geometry values are not implemented
st_geomfromkml | geospatial | geometry values are not implemented
st_interiorringn | geospatial | geometry values are not implemented
st_interiorrings | geospatial | geometry values are not implemented
st_intersection | geospatial | geometry values are not implemented
st_intersects | geospatial | geometry values are not implemented
st_isclosed | geospatial | geometry values are not implemented
st_isempty | geospatial | geometry values are not implemented
st_isring | geospatial | geometry values are not implemented
st_issimple | geospatial | geometry values are not implemented
st_isvalid | geospatial | geometry values are not implemented
st_length | geospatial | geometry values are not implemented
st_linefromtext | geospatial | geometry values are not implemented
st_linemerge | geospatial | geometry values are not implemented
st_linestring | geospatial | geometry values are not implemented
st_makeline | geospatial | geometry values are not implemented
st_makepolygon | geospatial | geometry values are not implemented
st_minimumboundingcircle | geospatial | geometry values are not implemented
st_multi | geospatial | geometry values are not implemented
st_multipoint | geospatial | geometry values are not implemented
st_normalize | geospatial | geometry values are not implemented
st_numgeometries | geospatial | geometry values are not implemented
st_numinteriorring | geospatial | geometry values are not implemented
st_numpoints | geospatial | geometry values are not implemented
st_orientedenvelope | geospatial | geometry values are not implemented
st_overlaps | geospatial | geometry values are not implemented
st_point | geospatial | geometry values are not implemented
st_pointn | geospatial | geometry values are not implemented
st_pointonsurface | geospatial | geometry values are not implemented
st_points | geospatial | geometry values are not implemented
st_polygon | geospatial | geometry values are not implemented
st_polygonize | geospatial | geometry values are not implemented
st_relate | geospatial | geometry values are not implemented
st_reduceprecision | geospatial | geometry values are not implemented
st_setsrid | geospatial | geometry values are not implemented
st_srid | geospatial | geometry values are not implemented
st_startpoint | geospatial | geometry values are not implemented
st_symdifference | geospatial | geometry values are not implemented
st_touches | geospatial | geometry values are not implemented
st_transform | geospatial | geometry values are not implemented
st_union | geospatial | geometry values are not implemented
st_voronoipolygons | geospatial | geometry values are not implemented
st_within | geospatial | geometry values are not implemented
st_x | geospatial | geometry values are not implemented
st_xmax | geospatial | geometry values are not implemented
st_xmin | geospatial | geometry values are not implemented
st_y | geospatial | geometry values are not implemented
st_ymax | geospatial | geometry values are not implemented
st_ymin | geospatial | geometry values are not implemented
st_z | geospatial | geometry values are not implemented
bing_tile | geospatial | geometry values are not implemented
bing_tile_at | geospatial | geometry values are not implemented
bing_tile_coordinates | geospatial | geometry values are not implemented
bing_tile_polygon | geospatial | geometry values are not implemented
bing_tile_quadkey | geospatial | geometry values are not implemented
bing_tile_zoom_level | geospatial | geometry values are not implemented
bing_tiles_around | geospatial | geometry values are not implemented
convex_hull_agg | geospatial | geometry values are not implemented
from_encoded_polyline | geospatial | geometry values are not implemented
from_geojson_geometry | geospatial | geometry values are not implemented
geometry_collect_agg | geospatial | geometry values are not implemented
geometry_from_hadoop_shape | geospatial | geometry values are not implemented
geometry_invalid_reason | geospatial | geometry values are not implemented
geometry_nearest_points | geospatial | geometry values are not implemented
geometry_to_bing_tiles | geospatial | geometry values are not implemented
geometry_union | geospatial | geometry values are not implemented
geometry_union_agg | geospatial | geometry values are not implemented
great_circle_distance | geospatial | geometry values are not implemented
line_interpolate_point | geospatial | geometry values are not implemented
line_interpolate_points | geospatial | geometry values are not implemented
line_locate_point | geospatial | geometry values are not implemented
simplify_geometry | geospatial | geometry values are not implemented
spatial_partitioning | geospatial | geometry values are not implemented
spatial_partitions | geospatial | geometry values are not implemented
to_encoded_polyline | geospatial | geometry values are not implemented
to_geojson_geometry | geospatial | geometry values are not implemented
to_geometry | geospatial | geometry values are not implemented
to_spherical_geography | geospatial | geometry values are not implemented
current_user | session | not implemented
current_path | session | not implemented
ipaddress | ipaddress | IP address values are not implemented
current_catalog | session | not implemented
current_schema | session | not implemented
uuid | uuid | not implemented
bar | color | not implemented
color | color | not implemented
render | color | not implemented
rgb | color | not implemented
"""

# Functions Athena engine v3 does not have (ML, Teradata, sketches of other systems, table functions and
# functions added to Trino after Athena's engine v3 base); Athena answers FUNCTION_NOT_FOUND.
NOT_IN_ATHENA = frozenset("""
ai_analyze_sentiment ai_classify ai_extract ai_fix_grammar ai_gen ai_mask ai_translate
classify features learn_classifier learn_libsvm_classifier learn_libsvm_regressor learn_regressor regress
evaluate_classifier_predictions char2hexint index to_char to_date to_timestamp objectid objectid_timestamp
timestamp_objectid random_string exclude_columns title_case overlay array_first array_last euclidean_distance
dot_product t_pdf t_cdf cosine_distance version theta_sketch_cardinality theta_sketch_union
""".split())

def _rows(text: str) -> list[list[str]]:
    return [[c.strip() for c in line.split(" | ")] for line in text.strip().splitlines() if line.strip()]

SUPPORTED: dict[str, Supported] = {r[0]: Supported(r[0], r[1], _arities(r[2]), r[3]) for r in _rows(_SUPPORTED_TEXT)}
REFUSED: dict[str, Refused] = {r[0]: Refused(r[0], r[1], r[2]) for r in _rows(_REFUSED_TEXT)}


# Beyond functions: types, operators and forms lakebox refuses or computes differently. feature | error | why
# ("differs" marks a known difference that is not refused).
_LIMITS_TEXT = """
types `json`, `char(n)`, `varbinary`, `time with time zone`, `ipaddress`, `uuid`, `row(...)`, `timestamp(p)` with p > 3 (casts and literals) | NOT_SUPPORTED | values of these types are not computed or printed as Trino does
`TIMESTAMP '... zone'` literals in a zone other than UTC | NOT_SUPPORTED | DuckDB keeps instants in UTC, not the zone
row values `(a, b)` outside `IN` and `VALUES` | NOT_SUPPORTED | row values are not implemented
operators Trino does not have (`&`, `<<`, `::`, ...) | NOT_SUPPORTED | only Trino's operators are translated
SQL/JSON clauses (`json_query(... WITH ARRAY WRAPPER)`, `json_array(... NULL ON NULL)`, ...) | NOT_SUPPORTED | not parsed by lakebox
subqueries inside a lambda | NOT_SUPPORTED | as in Trino
`FETCH FIRST n ROWS WITH TIES` | NOT_SUPPORTED | not translated
`interval year to month` values as result columns | NOT_SUPPORTED | DuckDB's Python values lose months; adding such intervals to dates and timestamps works
`UNNEST` of several arrays, or of a map | NOT_SUPPORTED | unnest one array per `CROSS JOIN UNNEST`
`sequence` with an `INTERVAL YEAR TO MONTH` step | NOT_SUPPORTED | not implemented
format and pattern arguments that are not literals (`date_format(x, fmt_column)`) | NOT_SUPPORTED | formats are translated before the query runs
Joda pattern letters `G C K k e`, fractions other than `SSS`, `SSSSSS`, `SSSSSSSSS`, a single `w` | INVALID_FUNCTION_ARGUMENT / NOT_SUPPORTED | no DuckDB equivalent
`array_sort` with a comparator that does not define an order | NOT_SUPPORTED | Trino's result then depends on its sort algorithm
`AT TIME ZONE` results | differs | the value is right and a top-level result prints as Trino does (`... America/Los_Angeles`), but is typed `varchar`; inside expressions it is the zone's wall-clock timestamp
decimal division, `avg`, `round` of expressions whose type is not evident | differs | DuckDB returns double; casts, literals, catalog columns, `VALUES` and CTE/subquery columns get Trino's types
`array[i]` / `map[k]` on a container whose type is not evident | differs | NULL instead of INVALID_FUNCTION_ARGUMENT past the end / on a missing key
string/number mix-ups on expressions whose type is not evident | differs | refused when both types are evident (literals, casts, catalog columns); otherwise DuckDB's implicit cast may run them
`CAST(double AS varchar)` | differs | DuckDB's text, not Java's `Double.toString` (result values themselves print as Java does)
result column types of string expressions | differs | Athena reports `varchar` for every string column, as lakebox does; `typeof` gives Trino's `varchar(n)` only for evident lengths
"""

LIMITS: list[tuple[str, str, str]] = [(r[0], r[1], r[2]) for r in _rows(_LIMITS_TEXT)]

