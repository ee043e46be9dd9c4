-- The manifold tour. Run from the repository root:
--   sqlite3 build/demo/demo.db -cmd ".load ./build/manifold" < sql/demo.sql
-- (demo.sh does this). It can be run again: it drops its tables first.
.headers on
.mode box
DROP TABLE IF EXISTS users;
DROP TABLE IF EXISTS readings;
DROP TABLE IF EXISTS cache;

.print
.print "manifold puts SQL tables on key-value engines. This build:"
SELECT manifold_version() AS version;
SELECT name, library_version, persistent, multi_process, available FROM manifold_engines;

.print
.print "1. A table on the default engine (the `manifold` module without engine=)."
.print "   INTEGER PRIMARY KEY is the rowid, exactly as in a native table."
CREATE VIRTUAL TABLE users USING manifold(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  email TEXT
);
INSERT INTO users(name, email) VALUES ('Ada Lovelace', 'ada@example.org');
INSERT INTO users(name, email) VALUES ('Grace Hopper', NULL);
INSERT INTO users VALUES ('10', 'Edsger Dijkstra', 'ewd@example.org');
SELECT id, typeof(id), name, email FROM users ORDER BY id;

.print
.print "2. A composite key, newest first per sensor, on the memory engine (engine=memory)."
CREATE VIRTUAL TABLE readings USING manifold(
  sensor TEXT,
  ts INTEGER,
  value REAL,
  PRIMARY KEY (sensor, ts DESC),
  engine=memory
);
INSERT INTO readings VALUES
  ('sensor-1', 100, 20.5), ('sensor-1', 200, 21.0), ('sensor-1', 300, 21.5),
  ('sensor-2', 100, 18.0), ('sensor-2', 200, 18.25), ('sensor-2', 300, 19.0);
SELECT * FROM readings ORDER BY sensor, ts DESC;

.print
.print "   A key prefix and a range are bounded scans; ORDER BY the key needs no sort:"
SELECT * FROM readings WHERE sensor = 'sensor-2' AND ts BETWEEN 150 AND 300;
EXPLAIN QUERY PLAN SELECT * FROM readings ORDER BY sensor, ts DESC;

.print
.print "3. Constraints work as natively: a duplicate key fails, OR REPLACE replaces."
INSERT OR REPLACE INTO readings VALUES ('sensor-1', 300, 99.9);
SELECT * FROM readings WHERE sensor = 'sensor-1' AND ts = 300;

.print
.print "4. Transactions: a rolled-back change leaves nothing behind."
BEGIN;
DELETE FROM users;
SELECT count(*) AS users_inside_transaction FROM users;
ROLLBACK;
SELECT count(*) AS users_after_rollback FROM users;
SAVEPOINT before_bob;
INSERT INTO users(name) VALUES ('Bob Tables');
ROLLBACK TO before_bob;
RELEASE before_bob;
SELECT name FROM users ORDER BY name;

.print
.print "5. Joins with native tables, aggregates."
DROP TABLE IF EXISTS teams;
CREATE TABLE teams(user_id INTEGER, team TEXT);
INSERT INTO teams VALUES (1, 'analytical engine'), (2, 'compilers'), (10, 'compilers');
SELECT t.team, count(*) AS members, group_concat(u.name, ', ') AS names
  FROM teams AS t JOIN users AS u ON u.id = t.user_id GROUP BY t.team ORDER BY t.team;
SELECT sensor, count(*) AS n, min(value) AS low, max(value) AS high, avg(value) AS mean
  FROM readings GROUP BY sensor;

.print
.print "6. Where the data lives, and how much of it there is."
SELECT 'users has ' || json_extract(manifold_stats('users'), '$.rows') || ' rows' AS stats;
SELECT json_extract(s, '$.engine') AS engine, json_extract(s, '$.keyspace') AS keyspace,
       json_extract(s, '$.rows') AS rows, json_extract(s, '$.bytes_on_disk') AS bytes_on_disk
  FROM (SELECT manifold_stats('users') AS s);
