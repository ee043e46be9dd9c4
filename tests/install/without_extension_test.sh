#!/bin/sh
# A database holding manifold tables, opened in a sqlite3 shell that has not
# loaded manifold: native tables, .schema, .tables and writes to native tables
# work; a manifold table is an error naming its module; loading manifold
# afterwards finds every row where it was. Exit 77 when sqlite3 is missing.
#
#   without_extension_test.sh path/to/manifold
set -eu
extension=$1
command -v sqlite3 >/dev/null || { echo "sqlite3 shell not installed: skipped"; exit 77; }

work=$(mktemp -d "${TMPDIR:-/tmp}/manifold-noext-XXXXXX")
trap 'rm -rf "$work"' EXIT
db=$work/travel.db

fail() {
  echo "FAILED: $1"
  echo "--- got:"
  echo "$2"
  exit 1
}
# expect_contains WHAT OUTPUT TEXT
expect_contains() {
  case $2 in *"$3"*) ;; *) fail "$1: expected to contain '$3'" "$2" ;; esac
}

sqlite3 -bail "$db" ".load $extension" \
  "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);
   INSERT INTO notes VALUES (1, 'native row');
   CREATE VIRTUAL TABLE kv USING btree(k TEXT PRIMARY KEY, v);
   INSERT INTO kv VALUES ('a', 1), ('b', 2);"

# Without .load: the schema is readable, native tables work.
out=$(sqlite3 "$db" ".schema" 2>&1)
expect_contains ".schema" "$out" "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);"
expect_contains ".schema" "$out" "CREATE VIRTUAL TABLE kv USING btree(k TEXT PRIMARY KEY, v);"
out=$(sqlite3 "$db" ".tables" 2>&1)
expect_contains ".tables" "$out" "kv"
expect_contains ".tables" "$out" "notes"
out=$(sqlite3 -bail "$db" "INSERT INTO notes VALUES (2, 'written without manifold');" \
        "SELECT id, body FROM notes ORDER BY id;" 2>&1)
expect_contains "native read and write" "$out" "1|native row"
expect_contains "native read and write" "$out" "2|written without manifold"
out=$(sqlite3 "$db" "PRAGMA integrity_check;" 2>&1)
[ "$out" = "ok" ] || fail "integrity_check" "$out"

# A manifold table is an error naming the module, for reads, writes and DROP.
for statement in "SELECT * FROM kv;" "INSERT INTO kv VALUES ('c', 3);" "DROP TABLE kv;"; do
  if out=$(sqlite3 "$db" "$statement" 2>&1); then
    fail "'$statement' without manifold should fail" "$out"
  fi
  expect_contains "'$statement' without manifold" "$out" "no such module: btree"
done

# Loading manifold again: the rows are all there, the native table's new row too.
out=$(sqlite3 -bail "$db" ".load $extension" "SELECT k, v FROM kv ORDER BY k;" \
        "SELECT count(*) FROM notes;" 2>&1)
expected="a|1
b|2
2"
[ "$out" = "$expected" ] || fail "after .load" "$out"
echo "without extension: ok"
