"""Reads every table the hep-rs tools wrote (produce.sh) with the readers physicists use.

Usage: python check.py OUT

For each Parquet file: pyarrow, pandas, polars and duckdb open it and agree on the row count;
timestamps are Arrow timestamps in ms or us, in UTC (or local wall-clock time where the source
gave no zone), never bare integers;
floating-point columns hold nulls, not NaN, for missing values; every floating-point column
carries a `unit` field metadata; a column name has one Arrow type across all the Parquet tables
of a tool. A table written both as X.parquet and
X.csv has the same column types in both (as pandas reads them). For each CSV file: a header
line, and pandas, polars and pyarrow agree on rows and columns. For each SQLite file: sqlite3 and pandas read every table. For each
Feather file (`.fd`, the ETROC scripts' name): pyarrow, pandas and polars agree.

Files of one kind in one directory pattern are sampled (the first of each name), so a
charge-injection scan with hundreds of runs costs one check per table name. Exits 1 and lists
every problem found; prints one line per file checked otherwise.
"""

import csv
import re
import sqlite3
import sys
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.feather as feather
import pyarrow.parquet as pq

problems: list[str] = []
checked: dict[str, int] = {}
# (tool, column name) -> {Arrow type: first file with it}: one type per quantity in a tool.
column_types: dict[tuple[str, str], dict[str, Path]] = {}
# Names that two originals use for different quantities, kept as each original has them:
# pax's interactions hold `s1`/`s2` as indices into the event's peaks, hax's Basics minitree
# holds `s1`/`s2` as the peaks' areas (pe).
DIFFERENT_QUANTITIES = {("fax", "s1"), ("fax", "s2")}


def problem(path: Path, what: str) -> None:
    problems.append(f"{path}: {what}")


def float_type(t: pa.DataType) -> bool:
    return pa.types.is_floating(t)


def check_parquet(path: Path) -> None:
    table = pq.read_table(path)
    n = table.num_rows
    if len(pd.read_parquet(path)) != n:
        problem(path, "pandas reads a different number of rows")
    if pl.read_parquet(path).height != n:
        problem(path, "polars reads a different number of rows")
    ((count,),) = duckdb.sql(f"select count(*) from read_parquet('{path}')").fetchall()
    if count != n:
        problem(path, f"duckdb counts {count} rows, pyarrow {n}")
    check_siblings(path)
    tool = path.relative_to(ROOT).parts[0]
    for field in table.schema:
        column_types.setdefault((tool, field.name), {}).setdefault(str(field.type), path)
    for field in table.schema:
        col = table.column(field.name)
        if pa.types.is_timestamp(field.type):
            if field.type.unit not in ("ms", "us"):
                problem(path, f"{field.name}: timestamp in {field.type.unit}, expected ms or us")
            # An instant is stored in UTC with the zone stated; a wall-clock time whose zone the
            # source never gave (the ETROC beam txt's `YYYY-MM-DD HH:MM:SS`) stays a local
            # timestamp (Parquet isAdjustedToUTC=false) rather than claiming UTC.
            if field.type.tz is not None and field.type.tz not in ("UTC", "+00:00", "Etc/UTC"):
                problem(path, f"{field.name}: timestamp in time zone {field.type.tz}, not UTC")
            pandas_dtype = str(pd.read_parquet(path, columns=[field.name])[field.name].dtype)
            if not pandas_dtype.startswith("datetime64"):
                problem(path, f"{field.name}: pandas reads {pandas_dtype}, not a datetime")
        elif pa.types.is_integer(field.type) and re.search(
            r"(^|_)(datetime|timestamp)($|_)", field.name
        ):
            problem(path, f"{field.name}: a time stored as a bare integer ({field.type})")
        if float_type(field.type):
            nans = pc.sum(pc.is_nan(col)).as_py() or 0
            if nans:
                problem(path, f"{field.name}: {nans} NaN values (missing must be null)")
            meta = field.metadata or {}
            if b"unit" not in meta:
                problem(path, f"{field.name}: no `unit` field metadata")


def check_siblings(parquet: Path) -> None:
    """A table written as both X.parquet and X.csv has one type per column in both."""
    csv_path = parquet.with_suffix(".csv")
    if not csv_path.is_file():
        return
    a = pd.read_parquet(parquet)
    b = pd.read_csv(csv_path)
    for col in a.columns.intersection(b.columns):
        ka, kb = a[col].dtype.kind, b[col].dtype.kind
        # An all-null column has no type of its own in a CSV, and CSV readers leave a time as
        # text unless asked to parse it.
        if ka != kb and ka != "M" and not b[col].isna().all():
            problem(
                csv_path,
                f"{col}: pandas reads {b[col].dtype} here, {a[col].dtype} from {parquet.name}",
            )


def check_csv(path: Path) -> None:
    with open(path, newline="") as f:
        first = f.readline()
    if first.startswith("#"):
        # brilcalc's export format (pixel-monitor's simulated luminosity input): commented
        # header lines, as brilcalc writes them; not a table of ours.
        return
    if not first.strip():
        problem(path, "empty file or empty header line")
        return
    header = next(csv.reader([first]))
    pdf = pd.read_csv(path)
    plf = pl.read_csv(path, infer_schema_length=None)
    paf = pacsv.read_csv(path)
    shapes = {
        "pandas": pdf.shape,
        "polars": (plf.height, plf.width),
        "pyarrow": (paf.num_rows, paf.num_columns),
    }
    if len(set(shapes.values())) != 1:
        problem(path, f"readers disagree on the shape: {shapes}")
    if list(pdf.columns) != header:
        problem(path, "pandas reads other column names than the header")


def check_sqlite(path: Path) -> None:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in con.execute("select name from sqlite_master where type='table'")]
        if not tables:
            problem(path, "no tables")
        for t in tables:
            (n,) = con.execute(f'select count(*) from "{t}"').fetchone()
            df = pd.read_sql(f'select * from "{t}"', con)
            if len(df) != n:
                problem(path, f"{t}: pandas reads {len(df)} rows, sqlite3 counts {n}")
            for col, decl in con.execute(f'select name, type from pragma_table_info("{t}")'):
                if not decl:
                    problem(path, f"{t}.{col}: no declared type")
    finally:
        con.close()


def check_feather(path: Path) -> None:
    table = feather.read_table(path)
    if len(pd.read_feather(path)) != table.num_rows:
        problem(path, "pandas reads a different number of rows")
    if pl.read_ipc(path).height != table.num_rows:
        problem(path, "polars reads a different number of rows")


CHECKS = {
    ".parquet": check_parquet,
    ".csv": check_csv,
    ".sqlite": check_sqlite,
    ".fd": check_feather,
    ".feather": check_feather,
}


def sample_key(path: Path, root: Path) -> str:
    """Files that differ only in run-like numbers or names under Individual_Runs share a key."""
    rel = str(path.relative_to(root))
    rel = re.sub(r"Individual_Runs/[^/]+", "Individual_Runs/*", rel)
    return re.sub(r"\d{3,}", "N", rel)


ROOT = Path(".")


def main() -> int:
    global ROOT
    root = ROOT = Path(sys.argv[1]).resolve()
    seen: set[str] = set()
    for path in sorted(root.rglob("*")):
        check = CHECKS.get(path.suffix)
        if check is None or not path.is_file():
            continue
        key = sample_key(path, root)
        if key in seen:
            continue
        seen.add(key)
        try:
            check(path)
        except Exception as e:  # a reader that fails is a finding, not a crash of the check
            problem(path, f"{type(e).__name__}: {e}")
        checked[path.suffix] = checked.get(path.suffix, 0) + 1
        print(f"checked {path.relative_to(root)}")
    for (tool, name), types in sorted(column_types.items()):
        if len(types) > 1 and (tool, name) not in DIFFERENT_QUANTITIES:
            where = "; ".join(f"{t} in {p.relative_to(root)}" for t, p in types.items())
            problems.append(f"{tool}: column `{name}` has {len(types)} types: {where}")
    print(
        f"interop: pyarrow {pa.__version__}, pandas {pd.__version__}, polars {pl.__version__}, "
        f"duckdb {duckdb.__version__}, sqlite {sqlite3.sqlite_version}; files checked: "
        + ", ".join(f"{k} {v}" for k, v in sorted(checked.items()))
    )
    if problems:
        print(f"{len(problems)} problems:", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
