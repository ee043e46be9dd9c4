-- Single and composite keys: key order with mixed storage classes,
-- DESC components, prefixes, ranges, IN lists and LIKE.
.headers on
.mode list
.separator " | "

-- native: CREATE TABLE kv(k PRIMARY KEY, v) WITHOUT ROWID;
CREATE VIRTUAL TABLE kv USING manifold(k PRIMARY KEY, v);
INSERT INTO kv VALUES (2, 'two'), (1.5, 'one and a half'), ('abc', 'text'), ('ABC', 'upper'),
  (x'00', 'blob'), (-9223372036854775808, 'min'), (9e999, 'inf'), ('', 'empty text'),
  (x'', 'empty blob'), ('abd', 'text 2');
INSERT INTO kv VALUES (2.0, 'two again');
SELECT typeof(k), quote(k), v FROM kv ORDER BY k;
SELECT quote(k) FROM kv ORDER BY k DESC;
SELECT quote(k), v FROM kv WHERE k > 1 AND k < 'b' ORDER BY k;
SELECT quote(k), v FROM kv WHERE k BETWEEN 'A' AND 'abc' ORDER BY k;
SELECT quote(k) FROM kv WHERE k IN (2, 'abc', NULL, x'00', 2) ORDER BY k;
SELECT quote(k) FROM kv WHERE k LIKE 'ab%' ORDER BY k;
SELECT quote(k) FROM kv WHERE k GLOB 'ab*' ORDER BY k;
SELECT quote(k), v FROM kv ORDER BY k LIMIT 3 OFFSET 2;

-- native: CREATE TABLE events(stream TEXT, seq INTEGER, body, PRIMARY KEY(stream, seq DESC)) WITHOUT ROWID;
CREATE VIRTUAL TABLE events USING manifold(stream TEXT, seq INTEGER, body, PRIMARY KEY(stream, seq DESC));
INSERT INTO events VALUES ('a', 1, 'a1'), ('a', 2, 'a2'), ('a', 3, 'a3'), ('b', 1, 'b1'),
  ('b', '2', 'b2'), ('c', 1, 'c1');
INSERT INTO events VALUES ('a', 2, 'duplicate');
INSERT INTO events VALUES ('a', NULL, 'null seq');
SELECT stream, seq, typeof(seq), body FROM events ORDER BY stream, seq DESC;
SELECT stream, seq FROM events WHERE stream = 'a' ORDER BY seq;
SELECT stream, seq FROM events WHERE stream = 'a' AND seq >= 2 ORDER BY stream, seq DESC;
SELECT stream, seq FROM events WHERE stream > 'a' ORDER BY stream DESC, seq;
SELECT stream, seq FROM events WHERE stream IN ('c', 'a') AND seq IN (1, 3) ORDER BY stream, seq;
UPDATE events SET seq = seq + 10 WHERE stream = 'b';
UPDATE events SET stream = 'a' WHERE stream = 'c';
UPDATE events SET seq = 2 WHERE stream = 'a' AND seq = 1;
SELECT stream, seq, body FROM events ORDER BY stream, seq DESC;
PRAGMA table_info(events);
