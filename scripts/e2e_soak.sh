#!/usr/bin/env bash
# The e2e tests ROUNDS times in a row (default 5) while BUSY other processes (default 1) keep a core each
# busy, as on a shared CI machine; stops at the first red round. One line per round, then the verdict.
#   make soak                 # 5 rounds, one core kept busy
#   ROUNDS=2 BUSY=0 make soak
set -uo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
BUSY=${BUSY:-1}
LOG_DIR=${LOG_DIR:-.airflow/soak}
mkdir -p "$LOG_DIR"

busy_pids=()
stop_busy() { [ ${#busy_pids[@]} -eq 0 ] || kill "${busy_pids[@]}" 2>/dev/null; }
trap stop_busy EXIT
for _ in $(seq 1 "$BUSY"); do
  .venv/bin/python -c "while True: pass" &
  busy_pids+=($!)
done

echo "soak: $ROUNDS round(s) of 'pytest -m e2e' with $BUSY busy process(es) on $(nproc) cores; logs in $LOG_DIR"
for round in $(seq 1 "$ROUNDS"); do
  started=$(date +%s)
  .venv/bin/python -m pytest -m e2e -p no:cacheprovider -q > "$LOG_DIR/round-$round.log" 2>&1
  status=$?
  elapsed=$(( $(date +%s) - started ))
  summary=$(tail -1 "$LOG_DIR/round-$round.log")
  printf 'soak: round %d/%d: exit %d in %dm%02ds: %s\n' "$round" "$ROUNDS" "$status" $((elapsed / 60)) \
    $((elapsed % 60)) "$summary"
  if [ "$status" -ne 0 ]; then
    echo "soak: FAILED in round $round (log: $LOG_DIR/round-$round.log)"
    exit 1
  fi
done
echo "soak: $ROUNDS/$ROUNDS rounds green"
