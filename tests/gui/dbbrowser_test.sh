#!/usr/bin/env bash
# DB Browser for SQLite with manifold, driven for real under Xvfb:
#
#   1. the sqlite3 shell with the built extension creates app.db with a btree
#      table `users` (and oracle.db, a native table with the same rows);
#   2. DB Browser starts with a private HOME whose sqlitebrowser.conf lists
#      manifold.so under [extensions], opening app.db; the test shows the
#      `users` table in Browse Data;
#   3. xdotool opens the editor of the `name` cell of row 2 in Browse Data,
#      types a new value, writes the changes (Ctrl+S) and quits (Ctrl+Q);
#   4. the sqlite3 shell with the extension reads the store back and compares
#      it with the native table after the same UPDATE.
#
#   dbbrowser_test.sh <path/to/manifold.so> <work directory>
#
# Screenshots (structure.png, browse.png, edited.png) stay in the work directory. Exits 77
# (a CTest skip) only when a program it needs is not installed or no X server
# can be started; every other problem is a failure.
set -uo pipefail

extension=$(realpath "$1")
work=$2
edited_value="Grace Hopper"

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

for tool in sqlitebrowser Xvfb xdotool import sqlite3; do
  command -v "$tool" >/dev/null ||
    skip "$tool not found (apt-get install sqlitebrowser xvfb xdotool imagemagick sqlite3)"
done
[ -f "$extension" ] || fail "extension $extension not found"

rm -rf "$work"
mkdir -p "$work/home/.config/sqlitebrowser" "$work/run"
chmod 700 "$work/run"
cd "$work" || fail "cannot enter $work"

# 1. The database, written through the sqlite3 shell with the extension.
rows="(1, 'Ada', 'ada@example.org'), (2, 'Grace', 'grace@example.org'), (3, 'Edsger', NULL)"
columns="id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT"
sqlite3 app.db ".load $extension" \
  "CREATE VIRTUAL TABLE users USING btree($columns);" \
  "INSERT INTO users VALUES $rows;" || fail "cannot create the manifold table"
sqlite3 oracle.db "CREATE TABLE users($columns); INSERT INTO users VALUES $rows;" \
  "UPDATE users SET name = '$edited_value' WHERE id = 2;" || fail "cannot create the oracle"

# 2. DB Browser's configuration: manifold loaded at every open; SQL's
# load_extension() stays off.
cat > home/.config/sqlitebrowser/sqlitebrowser.conf <<EOF
[extensions]
list=$extension
enable_load_extension=false
disableregex=false
EOF

# A private X server on a free display number.
Xvfb -displayfd 5 -screen 0 1280x800x24 -nolisten tcp > xvfb.log 2>&1 5> display.txt &
xvfb_pid=$!
dbb_pid=
cleanup() {
  [ -n "$dbb_pid" ] && kill "$dbb_pid" 2>/dev/null
  kill "$xvfb_pid" 2>/dev/null
  wait 2>/dev/null
}
trap cleanup EXIT
for _ in $(seq 50); do [ -s display.txt ] && break; sleep 0.1; done
[ -s display.txt ] || { cat xvfb.log; skip "no X server could be started (Xvfb)"; }
export DISPLAY=":$(head -n1 display.txt)"
export HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config" XDG_RUNTIME_DIR="$work/run"
echo "Xvfb on $DISPLAY"

sqlitebrowser app.db > sqlitebrowser.log 2>&1 &
dbb_pid=$!

# Visible top-level windows named exactly $1.
windows_named() {
  xdotool search --onlyvisible --name "^$1\$" 2>/dev/null
}
# A message box is a window titled just "DB Browser for SQLite": a failed
# extension load, or DB Browser 3.12 asking whether to abort its own row
# loading ("The database is currently busy"). Answer No (go on); the
# screenshots show what it said.
answer_dialogs() {
  for dialog in $(windows_named "DB Browser for SQLite"); do
    echo "answering a message box with No"
    import -window root "dialog-$(date +%s%N).png"
    xdotool windowfocus --sync "$dialog" key alt+n
    sleep 1
  done
}
main=
for _ in $(seq 60); do
  main=$(windows_named "DB Browser for SQLite - app.db" | head -n1)
  [ -n "$main" ] && break
  kill -0 "$dbb_pid" 2>/dev/null || { cat sqlitebrowser.log; fail "sqlitebrowser exited"; }
  sleep 0.5
done
if [ -z "$main" ]; then
  import -window root startup.png
  fail "no window titled 'DB Browser for SQLite - app.db' after 30 s (screenshot startup.png)"
fi
echo "window: $(xdotool getwindowname "$main")"
sleep 2
answer_dialogs
import -window root structure.png   # Database Structure: the tables listed

# Browse Data (the second tab), table `users` chosen in the Table box by
# typing its name. The main window sits at (0, 0): Xvfb runs no window manager.
xdotool windowfocus --sync "$main"
xdotool mousemove --window "$main" 208 80 click 1
sleep 1
xdotool mousemove --window "$main" 125 116 click 1
sleep 0.5
xdotool type users
xdotool key Return
sleep 2
answer_dialogs
import -window root browse.png

# 3. The edit. A click on row 2 of the first column (id), which starts right
# after the row numbers whatever the column widths, gives the grid the focus;
# Right moves to the name cell, F2 opens its editor, Return stores the value
# in DB Browser's pending changes and Ctrl+S (Write Changes) commits them.
xdotool windowfocus --sync "$main"
xdotool mousemove --window "$main" 36 229 click 1
sleep 0.5
xdotool key Right
sleep 0.3
xdotool key F2
sleep 0.5
xdotool key ctrl+a
xdotool type --delay 20 "$edited_value"
xdotool key Return
sleep 1
xdotool key ctrl+s
sleep 2
answer_dialogs
import -window root edited.png
import -window "$main" window.png

xdotool windowfocus --sync "$main" key ctrl+q
for _ in $(seq 20); do
  kill -0 "$dbb_pid" 2>/dev/null || break
  # On quit DB Browser asks whether to keep its SQL tabs in a project: Discard.
  for dialog in $(windows_named "DB Browser for SQLite"); do
    xdotool windowfocus --sync "$dialog" key alt+d
  done
  sleep 0.5
done
if kill -0 "$dbb_pid" 2>/dev/null; then
  import -window root quit.png
  fail "DB Browser did not quit after Ctrl+Q (screenshot quit.png)"
fi
wait "$dbb_pid"
dbb_pid=
grep -i "error" sqlitebrowser.log | grep -v -i "parse error\|syntax error" && echo "(DB Browser printed errors above)"

# 4. The store after DB Browser wrote it, against the native table.
got=$(sqlite3 app.db ".load $extension" "SELECT * FROM users ORDER BY id;") ||
  fail "cannot read the manifold table back"
want=$(sqlite3 oracle.db "SELECT * FROM users ORDER BY id;")
echo "manifold store:"; echo "$got"
if [ "$got" != "$want" ]; then
  echo "expected (native table after the same UPDATE):"; echo "$want"
  fail "the store does not hold the edit made in DB Browser (screenshots in $work)"
fi
echo "dbbrowser test: ok (screenshots in $work)"
