#!/usr/bin/env bash
# Re-create the shipped real-program traces: generate small inputs, capture each program with
# `vmswap capture` (valgrind lackey). Needs valgrind, gzip, xz, sort and sqlite3; takes minutes.
# Usage: scenarios/traces/make_traces.sh [path/to/vmswap]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
vmswap="${1:-$here/../../.venv/bin/vmswap}"
python="$(dirname "$vmswap")/python"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"

# Inputs: the same bytes on every machine.
seq -f "line %g: the quick brown fox jumps over the lazy dog" 1 2400 > words.txt
"$python" -c 'import random; r = random.Random(5)
print("\n".join(f"{r.getrandbits(32):010d}" for _ in range(6000)))' > numbers.txt
cat > query.sql <<'SQL'
CREATE TABLE t AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1500)
  SELECT x AS id, (x * 2654435761) % 1000 AS k, printf('%08d', (x * 40503) % 99991) AS v FROM c;
CREATE INDEX tk ON t(k);
SELECT k, count(*), max(v) FROM t WHERE k < 100 GROUP BY k ORDER BY 3 DESC LIMIT 3;
SQL

# A fixed, small environment: the stack (and so its pages) depends on the environment's size.
capture() { env -i PATH=/usr/bin:/bin LC_ALL=C "$vmswap" capture "$@"; }
capture --out "$here/gzip.npz" -- gzip -6 -c words.txt > /dev/null
capture --out "$here/xz.npz" -- xz -1 -c words.txt > /dev/null
capture --out "$here/sort.npz" -- sort --parallel=1 -o sorted.txt numbers.txt
capture --out "$here/sqlite3.npz" -- sqlite3 -batch -init /dev/null :memory: ".read query.sql" > /dev/null
