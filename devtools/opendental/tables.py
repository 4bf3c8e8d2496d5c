"""Project-owned OpenDental-style tables for the OpenDental pipeline's tests, ``make demo`` and the benchmark,
rendered to MySQL DDL when they run: a subset of each table's columns, chosen for what the pipeline
exercises (keys, change timestamps, zero dates, wide text, blobs), so nothing depends on the shared corpus.
utf8mb4 on purpose: 4-byte UTF-8 must survive.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The column types OpenDental uses most, named by their role.
SERIAL_KEY = "bigint(20) NOT NULL AUTO_INCREMENT"
REF = "bigint(20) NOT NULL"
AMOUNT = "double NOT NULL DEFAULT 0"
CODE = "tinyint(3) unsigned NOT NULL DEFAULT 0"
DATE = "date NOT NULL DEFAULT '0001-01-01'"
DATETIME = "datetime NOT NULL DEFAULT '0001-01-01 00:00:00'"
EDIT_STAMP = "timestamp NOT NULL DEFAULT current_timestamp() ON UPDATE current_timestamp()"
NAME = "varchar(100) DEFAULT ''"
NOTE = "varchar(255) DEFAULT ''"
TEXT = "text DEFAULT NULL"
CHARSET = "DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"


@dataclass(frozen=True)
class Table:
    """Columns as (name, MySQL type); ``indexes`` are column names, ``LName(10)`` for a prefix index;
    ``engine`` None leaves the server default (InnoDB)."""

    columns: list[tuple[str, str]]
    key: str | None = None
    indexes: tuple[str, ...] = ()
    unique: tuple[str, ...] = ()
    engine: str | None = field(default="MyISAM")


def _index(column: str) -> str:
    name, _, prefix = column.partition("(")
    return f"KEY `{name}` (`{name}`{'(' + prefix if prefix else ''})"


def create_table(name: str) -> str:
    """The CREATE TABLE statement of project table ``name``."""
    return render_table(name, TABLES[name])


def render_table(name: str, table: Table) -> str:
    """The CREATE TABLE statement of ``table`` under ``name`` (the project's tables, or generated ones)."""
    lines = [f"`{column}` {kind}" for column, kind in table.columns]
    lines += [f"PRIMARY KEY (`{table.key}`)"] if table.key else []
    lines += [f"UNIQUE KEY `{column}` (`{column}`)" for column in table.unique]
    lines += [_index(column) for column in table.indexes]
    options = f"ENGINE={table.engine} {CHARSET}" if table.engine else CHARSET
    return f"CREATE TABLE `{name}` (\n  " + ",\n  ".join(lines) + f"\n) {options}"


TABLES: dict[str, Table] = {
    "appointment": Table(
        columns=[
            ("AptNum", SERIAL_KEY),
            ("PatNum", REF),
            ("AptStatus", CODE),
            ("Pattern", NOTE),
            ("Confirmed", REF),
            ("TimeLocked", "tinyint(1) NOT NULL DEFAULT 0"),
            ("Op", REF),
            ("Note", TEXT),
            ("ProvNum", REF),
            ("ProvHyg", REF),
            ("AptDateTime", DATETIME),
            ("IsNewPatient", CODE),
            ("ProcDescript", NOTE),
            ("ClinicNum", REF),
            ("IsHygiene", CODE),
            ("DateTStamp", EDIT_STAMP),
            ("DateTimeArrived", DATETIME),
            ("DateTimeSeated", DATETIME),
            ("DateTimeDismissed", DATETIME),
            ("SecDateTEntry", DATETIME),
        ],
        key="AptNum", indexes=("PatNum", "AptDateTime"),
    ),
    "claimproc": Table(
        columns=[
            ("ClaimProcNum", SERIAL_KEY),
            ("ProcNum", REF),
            ("ClaimNum", REF),
            ("PatNum", REF),
            ("ProvNum", REF),
            ("FeeBilled", AMOUNT),
            ("InsPayEst", AMOUNT),
            ("DedApplied", AMOUNT),
            ("Status", CODE),
            ("InsPayAmt", AMOUNT),
            ("Remarks", NOTE),
            ("PlanNum", REF),
            ("DateCP", DATE),
            ("WriteOff", AMOUNT),
            ("ProcDate", DATE),
            ("ClinicNum", REF),
            ("SecDateEntry", DATE),
            ("SecDateTEdit", EDIT_STAMP),
        ],
        key="ClaimProcNum", indexes=("ProcNum", "SecDateTEdit"),
    ),
    "definition": Table(
        columns=[
            ("DefNum", SERIAL_KEY),
            ("Category", CODE),
            ("ItemOrder", "smallint(5) unsigned NOT NULL DEFAULT 0"),
            ("ItemName", NOTE),
            ("ItemValue", NOTE),
            ("ItemColor", "int(11) NOT NULL DEFAULT 0"),
            ("IsHidden", CODE),
        ],
        key="DefNum",
    ),
    "document": Table(
        columns=[
            ("DocNum", SERIAL_KEY),
            ("Description", NOTE),
            ("DateCreated", DATETIME),
            ("DocCategory", REF),
            ("PatNum", REF),
            ("FileName", NOTE),
            ("ImgType", CODE),
            ("Note", "mediumtext DEFAULT NULL"),
            ("Thumbnail", "mediumblob DEFAULT NULL"),
            ("RawBase64", "longtext DEFAULT NULL"),
            ("Signature", "varbinary(64) DEFAULT NULL"),
            ("DegreesRotated", "smallint(6) NOT NULL DEFAULT 0"),
            ("CropW", "decimal(10,2) NOT NULL DEFAULT 0.00"),
            ("DateTStamp", EDIT_STAMP),
        ],
        key="DocNum", indexes=("PatNum",),
        engine=None,
    ),
    "patient": Table(
        columns=[
            ("PatNum", SERIAL_KEY),
            ("LName", NAME),
            ("FName", NAME),
            ("MiddleI", NAME),
            ("Preferred", NAME),
            ("PatStatus", CODE),
            ("Gender", CODE),
            ("Position", CODE),
            ("Birthdate", DATE),
            ("SSN", NAME),
            ("City", NAME),
            ("State", NAME),
            ("Zip", NAME),
            ("Email", NAME),
            ("Guarantor", REF),
            ("PriProv", REF),
            ("SecProv", REF),
            ("FeeSched", REF),
            ("BillingType", REF),
            ("EstBalance", AMOUNT),
            ("Bal_0_30", AMOUNT),
            ("Bal_31_60", AMOUNT),
            ("Bal_61_90", AMOUNT),
            ("BalOver90", AMOUNT),
            ("InsEst", AMOUNT),
            ("BalTotal", AMOUNT),
            ("AddrNote", TEXT),
            ("DateFirstVisit", DATE),
            ("ClinicNum", REF),
            ("SchedBeforeTime", "time DEFAULT NULL"),
            ("DateTStamp", EDIT_STAMP),
            ("DateTimeDeceased", DATETIME),
            ("SecDateEntry", DATE),
        ],
        key="PatNum", indexes=("LName(10)", "Guarantor", "DateTStamp"),
    ),
    "payment": Table(
        columns=[
            ("PayNum", SERIAL_KEY),
            ("PayType", REF),
            ("PayDate", DATE),
            ("PayAmt", AMOUNT),
            ("CheckNum", "varchar(25) DEFAULT ''"),
            ("PayNote", TEXT),
            ("IsSplit", CODE),
            ("PatNum", REF),
            ("ClinicNum", REF),
            ("DateEntry", DATE),
            ("ProcessStatus", "tinyint(4) NOT NULL"),
            ("MerchantFee", "double NOT NULL"),
            ("SecDateTEdit", EDIT_STAMP),
        ],
        key="PayNum", indexes=("PatNum",),
    ),
    "preference": Table(
        columns=[
            ("PrefName", "varchar(255) NOT NULL DEFAULT ''"),
            ("ValueString", "mediumtext NOT NULL"),
            ("Comments", TEXT),
        ],
        unique=("PrefName",),
    ),
    "procedurelog": Table(
        columns=[
            ("ProcNum", SERIAL_KEY),
            ("PatNum", REF),
            ("AptNum", REF),
            ("ProcDate", DATE),
            ("ProcFee", AMOUNT),
            ("Surf", "varchar(10) DEFAULT ''"),
            ("ToothNum", "varchar(2) DEFAULT ''"),
            ("ProcStatus", CODE),
            ("ProvNum", REF),
            ("ClinicNum", REF),
            ("CodeNum", REF),
            ("UnitQty", "int(11) NOT NULL"),
            ("BaseUnits", "int(11) NOT NULL"),
            ("ProcTime", "time NOT NULL"),
            ("DateTStamp", EDIT_STAMP),
            ("DrugQty", "float NOT NULL"),
            ("Discount", "double NOT NULL"),
            ("SecDateEntry", DATETIME),
            ("DateComplete", DATE),
            ("DateEntryC", DATE),
        ],
        key="ProcNum", indexes=("PatNum", "DateTStamp"),
    ),
    "securitylog": Table(
        columns=[
            ("SecurityLogNum", SERIAL_KEY),
            ("PermType", CODE),
            ("UserNum", REF),
            ("LogDateTime", DATETIME),
            ("LogText", TEXT),
            ("PatNum", REF),
            ("CompName", "varchar(255) NOT NULL"),
        ],
        key="SecurityLogNum", indexes=("PatNum",),
    ),
}
