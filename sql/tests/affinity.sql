-- Declared types give the same affinity as in a native table, and every
-- value comes back with its storage class.
.headers on
.mode list
.separator " | "

-- native: CREATE TABLE t(i INTEGER, r REAL, n NUMERIC, x TEXT, b BLOB, z);
CREATE VIRTUAL TABLE t USING manifold(i INTEGER, r REAL, n NUMERIC, x TEXT, b BLOB, z);
INSERT INTO t VALUES ('3', '3', '3', 3, '3', '3');
INSERT INTO t VALUES (3.0, 3.0, 3.0, 3.0, 3.0, 3.0);
INSERT INTO t VALUES ('3.5', '3.5', '3.5', 3.5, '3.5', '3.5');
INSERT INTO t VALUES (' 12 ', ' 12 ', ' 12 ', ' 12 ', ' 12 ', ' 12 ');
INSERT INTO t VALUES (x'00', x'00', x'00', x'00', x'00', x'00');
INSERT INTO t VALUES ('1e2', '1e2', '0x10', 1e2, '1e2', '1e2');
INSERT INTO t VALUES (-0.0, -0.0, -0.0, -0.0, -0.0, -0.0);
SELECT typeof(i), quote(i), typeof(r), quote(r), typeof(n), quote(n), typeof(x), quote(x),
  typeof(b), quote(b), typeof(z), quote(z) FROM t ORDER BY rowid;

-- native: CREATE TABLE v(k INTEGER PRIMARY KEY, v);
CREATE VIRTUAL TABLE v USING manifold(k INTEGER PRIMARY KEY, v);
INSERT INTO v VALUES (1, 1e308), (2, 9e999), (3, -9e999), (4, 9223372036854775807),
  (5, -9223372036854775808), (6, ''), (7, x''), (8, CAST(x'610062' AS TEXT)), (9, -0.0),
  (10, 0.1), (11, NULL);
SELECT k, typeof(v), quote(v), hex(v), length(v) FROM v ORDER BY k;

-- native: CREATE TABLE w(a INT PRIMARY KEY, b) WITHOUT ROWID;
CREATE VIRTUAL TABLE w USING manifold(a INT PRIMARY KEY, b);
INSERT INTO w VALUES ('3', 'text three'), (4.0, 'real four'), ('x', 'text');
SELECT typeof(a), a, b FROM w ORDER BY a;
SELECT b FROM w WHERE a = '3';
SELECT b FROM w WHERE a = 4;
SELECT b FROM w WHERE a > '3' ORDER BY a;
