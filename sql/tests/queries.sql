-- Joins with native tables, aggregates, INSERT ... SELECT from the same
-- table, and statements with WHERE terms on non-key columns.
.headers on
.mode list
.separator " | "

CREATE TABLE cities(code TEXT, city TEXT);
INSERT INTO cities VALUES ('uk', 'London'), ('fr', 'Paris'), ('fr', 'Lyon'), ('de', 'Berlin');
-- native: CREATE TABLE countries(code TEXT PRIMARY KEY, name TEXT, population INTEGER) WITHOUT ROWID;
CREATE VIRTUAL TABLE countries USING manifold(code TEXT PRIMARY KEY, name TEXT, population INTEGER);
INSERT INTO countries VALUES ('fr', 'France', 68), ('de', 'Germany', 84), ('it', 'Italy', 59),
  ('uk', 'United Kingdom', 67);
SELECT c.city, k.name FROM cities AS c JOIN countries AS k ON k.code = c.code ORDER BY c.city;
SELECT k.name, count(c.city) AS cities FROM countries AS k LEFT JOIN cities AS c ON c.code = k.code
  GROUP BY k.name ORDER BY k.name;
SELECT count(*), sum(population), min(name), max(population), avg(population) FROM countries;
SELECT name FROM countries WHERE population > 60 ORDER BY population DESC;
UPDATE countries SET population = population + 1 WHERE name LIKE '%many';
DELETE FROM countries WHERE population < 60;
INSERT INTO countries SELECT code || '2', name || ' (copy)', population * 2 FROM countries;
SELECT * FROM countries ORDER BY code;
SELECT * FROM countries ORDER BY code DESC LIMIT 2 OFFSET 1;
SELECT code FROM countries WHERE code IN (SELECT code FROM cities) ORDER BY code;
DELETE FROM countries;
SELECT count(*) FROM countries;
INSERT INTO countries VALUES ('es', 'Spain', 48);
SELECT * FROM countries;
