"""The wide-night generator plans exactly the wanted number of tables, names them uniquely, and gives the
generated ones the shape of each load strategy."""

from __future__ import annotations

from collections import Counter

from devtools.opendental import generator
from devtools.opendental.wide import SHAPES, generated_shape, wide_tables
from pipelines.opendental.config import Settings, TableOverride

SHARED = ["CREATE TABLE `patient` (`PatNum` bigint NOT NULL AUTO_INCREMENT, PRIMARY KEY (`PatNum`))",
          "CREATE TABLE `securityloghash` (`SecurityLogHashNum` bigint NOT NULL, PRIMARY KEY (`SecurityLogHashNum`))"]
EXCLUDING = Settings(tables={"securityloghash": TableOverride(exclude=True)})


def test_the_night_plans_the_wanted_count_with_the_shared_tables_first_and_excluded_ones_not_counted():
    wide = wide_tables(446, rows=10, settings=EXCLUDING, shared=SHARED)

    names = [table.name for table in wide]
    assert names[:2] == ["patient", "securityloghash"]
    assert len(names) == 447
    assert len(set(names)) == 447
    assert all(generator.table_name(table.ddl).lower() == table.name for table in wide)
    assert {table.rows for table in wide} == {10, 20, 30}


def test_fewer_tables_than_the_shared_ddl_holds_takes_the_first_ones():
    assert [table.name for table in wide_tables(1, settings=EXCLUDING, shared=SHARED)] == ["patient"]
    mixed = wide_tables(3, settings=EXCLUDING, shared=SHARED, most_shared=1)
    assert [table.name for table in mixed][:1] == ["patient"]
    assert len(mixed) == 3


def test_generated_tables_cycle_through_the_three_strategy_shapes():
    wide = wide_tables(8, settings=EXCLUDING, shared=SHARED)[2:]

    keys = Counter(("PRIMARY KEY" in t.ddl, "DateTStamp" in t.ddl, "AUTO_INCREMENT" in t.ddl) for t in wide)
    assert keys == {(True, True, True): 3, (True, False, True): 2, (False, False, False): 2}
    assert generated_shape("alert", "full").key is None  # nothing to upsert on: copied whole
    assert len(SHAPES) == 3
