-- Rowid tables and INTEGER PRIMARY KEY: rowids as SQLite assigns them,
-- values with their storage classes, ORDER BY and ranges on the rowid.
.headers on
.mode list
.separator " | "

-- native: CREATE TABLE notes(body TEXT, stars INTEGER);
CREATE VIRTUAL TABLE notes USING manifold(body TEXT, stars INTEGER);
INSERT INTO notes VALUES ('first', 3), ('second', '4'), ('third', 2.0);
DELETE FROM notes WHERE rowid = 3;
INSERT INTO notes VALUES ('fourth', NULL);
INSERT INTO notes(rowid, body) VALUES (10, 'explicit rowid');
INSERT INTO notes(body) VALUES ('after ten');
SELECT rowid, body, typeof(stars), stars FROM notes ORDER BY rowid;
SELECT rowid, body FROM notes WHERE rowid > 2 AND rowid <= 10 ORDER BY rowid DESC;
SELECT changes();

-- native: CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT);
CREATE VIRTUAL TABLE users USING manifold(id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT);
INSERT INTO users VALUES (1, 'Ada', 'ada@example.org');
INSERT INTO users(name) VALUES ('Grace');
INSERT INTO users VALUES ('7', 'Linus', NULL);
INSERT INTO users VALUES ('seven', 'Bad', NULL);
INSERT INTO users VALUES (1, 'Duplicate', NULL);
INSERT INTO users VALUES (8, NULL, NULL);
SELECT id, typeof(id), name, quote(email) FROM users ORDER BY id;
SELECT name FROM users WHERE id = '7';
SELECT name FROM users WHERE id IN (2, 7, 99) ORDER BY id DESC;
UPDATE users SET id = 20 WHERE name = 'Grace';
UPDATE users SET email = 'linus@example.org' WHERE id = 7;
SELECT changes();
DELETE FROM users WHERE id BETWEEN 1 AND 7;
SELECT id, name, email FROM users;
SELECT count(*) FROM users;
