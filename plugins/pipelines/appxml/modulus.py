"""Which ``workers`` (the modulus) a staging run may use, from the progress table of the partitions that ran.

A partition resumes after the highest app_id already staged for its remainder. That resume point is right
only while ``workers`` stays the same until every partition has reached its end: a remainder of another
modulus mixes the ids of several old partitions, and a failed one's gap would lie below the new resume
point, its documents never staged. So each partition run records its start and its end in
``<staging>_progress``, and ``check_modulus`` refuses another ``workers`` whose partitions would resume past
ids that such an unfinished partition has not staged.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import sqlalchemy as sa

from pipelines.appxml import tables as t
from pipelines.appxml.errors import StagingError
from pipelines.common.database.tables import TableName
from pipelines.common.partitions import partition_label


def record_progress(engine: sa.Engine, staging: TableName, mod: int, rem: int, finished: bool) -> None:
    progress = t.progress_table(staging, engine.dialect.name)
    with engine.begin() as conn:
        for statement in t.record_partition(progress, mod, rem, finished):
            conn.execute(statement)


def unfinished_partitions(engine: sa.Engine, staging: TableName, mod: int) -> dict[int, list[int]]:
    """{modulus: remainders not finished} for every modulus other than ``mod`` that staged before; a
    partition that never ran counts as not finished."""
    progress = t.progress_table(staging, engine.dialect.name)
    if not sa.inspect(engine).has_table(progress.name, schema=progress.schema):
        return {}
    with engine.connect() as conn:
        rows = conn.execute(t.partitions_of_other_moduli(progress, mod)).all()
    finished: dict[int, set[int]] = {}
    for modulus, rem, done in rows:
        finished.setdefault(modulus, set()).update([rem] if done else [])
    return {modulus: sorted(set(range(modulus)) - done) for modulus, done in sorted(finished.items())
            if set(range(modulus)) - done}


def skipped_partitions(engine: sa.Engine, staging: TableName, mod: int,
                       remainders: Iterable[int]) -> dict[int, list[int]]:
    """{modulus: remainders} of the unfinished partitions of other moduli whose documents partitions
    ``remainders`` of ``mod`` would resume past, never to stage them.

    New partition r and old partition s share ids when r and s agree modulo gcd(mod, modulus). Old s
    staged its ids in order up to its own highest staged id, so r skips some of them only when r resumes
    after that id (r's resume point is the highest id staged in its remainder, by any partition)."""
    unfinished = unfinished_partitions(engine, staging, mod)
    if not unfinished:
        return {}
    stg = t.staging_table(staging, engine.dialect.name)
    with engine.connect() as conn:
        resume_at = dict(conn.execute(t.max_staged_per_remainder(stg, mod)).all())
        skipped = {}
        for modulus, rems in unfinished.items():
            reached = dict(conn.execute(t.max_staged_per_remainder(stg, modulus)).all())
            shared = math.gcd(mod, modulus)
            behind = [s for s in rems if any(
                resume_at.get(r) is not None and (reached.get(s) is None or reached[s] < resume_at[r])
                for r in remainders if r % shared == s % shared)]
            if behind:
                skipped[modulus] = behind
    return skipped


def check_modulus(engine: sa.Engine, staging: TableName, mod: int, remainders: Iterable[int]) -> None:
    """A StagingError when staging ``remainders`` of ``workers=mod`` would resume past documents that an
    unfinished partition of another ``workers`` has not staged yet."""
    skipped = skipped_partitions(engine, staging, mod, list(remainders))
    if not skipped:
        return
    listed = "; ".join(f"workers={modulus}: {', '.join(partition_label(rem, modulus) for rem in rems)}"
                       for modulus, rems in skipped.items())
    first, rems = next(iter(skipped.items()))
    raise StagingError(
        f"workers={mod} refused: partitions staged with other workers have not finished ({listed}); finish "
        f'them first, e.g. {{"workers": {first}, "remainders": {rems}}}. A partition resumes after the highest '
        "app_id staged in its remainder, so changing workers now would leave their documents unstaged")
