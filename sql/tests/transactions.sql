-- Transactions, savepoints, statement rollback and conflict clauses.
.headers on
.mode list
.separator " | "

-- native: CREATE TABLE acct(name TEXT PRIMARY KEY, balance INTEGER NOT NULL) WITHOUT ROWID;
CREATE VIRTUAL TABLE acct USING manifold(name TEXT PRIMARY KEY, balance INTEGER NOT NULL);
INSERT INTO acct VALUES ('alice', 100), ('bob', 50);
BEGIN;
UPDATE acct SET balance = balance - 30 WHERE name = 'alice';
UPDATE acct SET balance = balance + 30 WHERE name = 'bob';
SELECT * FROM acct ORDER BY name;
ROLLBACK;
SELECT * FROM acct ORDER BY name;

SAVEPOINT outer_sp;
INSERT INTO acct VALUES ('carol', 10);
SAVEPOINT inner_sp;
INSERT INTO acct VALUES ('dave', 20);
DELETE FROM acct WHERE name = 'alice';
ROLLBACK TO inner_sp;
INSERT INTO acct VALUES ('erin', 30);
RELEASE outer_sp;
SELECT * FROM acct ORDER BY name;

-- A statement that fails halfway leaves nothing behind.
INSERT INTO acct VALUES ('frank', 1), ('alice', 2), ('gina', 3);
INSERT INTO acct VALUES ('hank', 1), ('ivan', NULL);
SELECT count(*) FROM acct;

INSERT OR IGNORE INTO acct VALUES ('alice', 0), ('judy', 5);
SELECT changes();
INSERT OR REPLACE INTO acct VALUES ('bob', 999);
BEGIN;
INSERT INTO acct VALUES ('kim', 1);
INSERT OR FAIL INTO acct VALUES ('lena', 1), ('bob', 2), ('mia', 3);
SELECT * FROM acct ORDER BY name;
INSERT OR ROLLBACK INTO acct VALUES ('nina', 1), ('bob', 2);
COMMIT;
SELECT * FROM acct ORDER BY name;
UPDATE OR REPLACE acct SET name = 'alice' WHERE name = 'carol';
UPDATE OR IGNORE acct SET name = 'alice' WHERE name = 'erin';
UPDATE acct SET name = 'alice' WHERE name = 'erin';
SELECT * FROM acct ORDER BY name DESC;
