#!/bin/bash
# Replace strategies on PostgreSQL typed by hand, 1M rows from a file (dump made untimed): staging, truncate,
# build-and-swap. Needs what `python -m bench --only modes` leaves: MariaDB bench.awk_1000000 and PostgreSQL
# bench.base_upd_1000000. Run from the checkout: bash bench/refs/replace_strategies.sh
set -e
P="psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -U postgres -d test"
mkdir -p bench/work
F=$PWD/bench/work/awk_1000000.tsv
[ -s $F ] || mariadb -h127.0.0.1 -uroot --default-character-set=utf8mb4 --batch --raw --quick --skip-column-names -e "SELECT id, customer_id, amount, status, created_at, COALESCE(REPLACE(REPLACE(REPLACE(REPLACE(note, '\\\\', '\\\\\\\\'), '\\t', '\\\\t'), '\\n', '\\\\n'), '\\r', '\\\\r'), '\\\\N') FROM awk_1000000" bench > $F
fill() { $P -c "DROP TABLE IF EXISTS bench.swt, bench.swt_new, bench.swt_old" -c "CREATE TABLE bench.swt (LIKE bench.base_upd_1000000 INCLUDING ALL)" -c "INSERT INTO bench.swt SELECT * FROM bench.base_upd_1000000" -c "VACUUM ANALYZE bench.swt"; }
for rep in 1 2 3; do
for strat in staging truncate swap; do
  fill
  s=$(date +%s.%N)
  case $strat in
  staging) $P -c BEGIN -c "CREATE TEMP TABLE stg (LIKE bench.swt)" -c "\\copy stg FROM '$F'" -c "DELETE FROM bench.swt" -c "INSERT INTO bench.swt SELECT * FROM stg" -c COMMIT;;
  truncate) $P -c BEGIN -c "TRUNCATE bench.swt" -c "\\copy bench.swt FROM '$F'" -c COMMIT;;
  swap) $P -c BEGIN -c "CREATE TABLE bench.swt_new (LIKE bench.swt INCLUDING ALL EXCLUDING INDEXES)" -c "\\copy bench.swt_new FROM '$F'" -c "ALTER TABLE bench.swt_new ADD PRIMARY KEY (id)" -c "ALTER TABLE bench.swt RENAME TO swt_old" -c "ALTER TABLE bench.swt_new RENAME TO swt" -c "DROP TABLE bench.swt_old" -c COMMIT;;
  esac
  e=$(date +%s.%N)
  echo "$strat $rep $(echo "$e - $s" | bc)"
done; done
$P -c "DROP TABLE IF EXISTS bench.swt, bench.swt_new, bench.swt_old"
