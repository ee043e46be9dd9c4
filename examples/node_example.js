#!/usr/bin/env node
// manifold from Node.js with better-sqlite3 (version 12 on Node.js 20): load
// the extension, keep a table in a B+tree store in a temporary directory,
// write it in transactions, query it, and check every answer against a
// native SQLite table holding the same rows.
//
//   npm install better-sqlite3@12
//   node examples/node_example.js path/to/manifold      (the .so may be left out)
//
// Exits 0 and prints "node example: ok" when every answer matches the native
// table; exits 1 and prints the first mismatch otherwise.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const Database = require('better-sqlite3');

const extension = path.resolve(process.argv[2] || './build/manifold');

// The same declaration twice: a manifold table on the btree engine and a
// native table, the oracle.
const COLUMNS = 'sensor TEXT, ts INTEGER, value REAL, note TEXT, PRIMARY KEY (sensor, ts)';

function open(file) {
  const db = new Database(file);
  // better-sqlite3 allows loading only through this call, never from SQL.
  // SQLite derives the entry point sqlite3_manifold_init from the file name.
  db.loadExtension(extension);
  return db;
}

// Queries run on both tables; {t} is the table name.
const QUERIES = [
  'SELECT count(*) AS n, sum(value) AS total, min(ts) AS first, max(ts) AS last FROM {t}',
  "SELECT * FROM {t} WHERE sensor = 'sensor-3' ORDER BY ts",
  "SELECT sensor, ts, value FROM {t} WHERE sensor = 'sensor-1' AND ts BETWEEN 100 AND 400",
  'SELECT sensor, count(*) AS n, avg(value) AS mean FROM {t} GROUP BY sensor ORDER BY sensor',
  'SELECT * FROM {t} ORDER BY sensor DESC, ts DESC LIMIT 7 OFFSET 3',
  'SELECT sensor, ts, typeof(value) AS tv, typeof(note) AS tn FROM {t} WHERE note IS NOT NULL ORDER BY 1, 2',
  "SELECT * FROM {t} WHERE sensor >= 'sensor-2' AND sensor < 'sensor-4' AND ts % 7 = 0 ORDER BY 1, 2",
];

let failures = 0;

function compare(db, label) {
  for (const query of QUERIES) {
    const got = db.prepare(query.replaceAll('{t}', 'readings')).all();
    const want = db.prepare(query.replaceAll('{t}', 'readings_native')).all();
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      failures++;
      console.error(`mismatch (${label}): ${query}\n  manifold: ${JSON.stringify(got).slice(0, 400)}` +
                    `\n  native:   ${JSON.stringify(want).slice(0, 400)}`);
    }
  }
}

function main() {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'manifold-node-'));
  const file = path.join(directory, 'example.db');
  try {
    let db = open(file);
    console.log('manifold', db.prepare('SELECT manifold_version() AS v').get().v);

    db.exec(`CREATE VIRTUAL TABLE readings USING btree(${COLUMNS})`);
    db.exec(`CREATE TABLE readings_native(${COLUMNS})`);

    // Rows from a fixed pseudo-random sequence: the same on every run.
    let seed = 12345;
    const next = (n) => {  // high bits: the low ones of this generator repeat quickly
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return Math.floor(seed / 65536) % n;
    };
    const rows = [];
    for (let i = 0; i < 2000; i++) {
      const note = next(5) === 0 ? `note ${i}` : null;
      // Some values arrive as text or integers: REAL affinity applies to both tables.
      const raw = next(100000) / 100;
      const value = i % 11 === 0 ? String(raw) : (i % 13 === 0 ? Math.trunc(raw) : raw);
      rows.push([`sensor-${next(6)}`, next(1000), value, note]);
    }

    const insertManifold = db.prepare('INSERT OR REPLACE INTO readings VALUES (?, ?, ?, ?)');
    const insertNative = db.prepare('INSERT OR REPLACE INTO readings_native VALUES (?, ?, ?, ?)');
    const insertAll = db.transaction((batch) => {
      for (const row of batch) {
        insertManifold.run(row);
        insertNative.run(row);
      }
    });
    insertAll(rows);  // one transaction: both tables commit together
    compare(db, 'after insert');

    // A transaction that throws is rolled back on both tables.
    try {
      db.transaction(() => {
        db.prepare("DELETE FROM readings WHERE sensor = 'sensor-0'").run();
        db.prepare("DELETE FROM readings_native WHERE sensor = 'sensor-0'").run();
        throw new Error('abandon');
      })();
    } catch (e) {
      if (e.message !== 'abandon') throw e;
    }
    compare(db, 'after rollback');

    // A duplicate key is refused with SQLite's own constraint error.
    const first = rows[0];
    for (const table of ['readings', 'readings_native']) {
      try {
        db.prepare(`INSERT INTO ${table} VALUES (?, ?, 0, NULL)`).run(first[0], first[1]);
        failures++;
        console.error(`mismatch: duplicate key accepted by ${table}`);
      } catch (e) {
        if (e.code !== 'SQLITE_CONSTRAINT_PRIMARYKEY') {
          failures++;
          console.error(`mismatch: ${table} refused a duplicate with ${e.code}: ${e.message}`);
        }
      }
    }

    db.transaction(() => {
      for (const table of ['readings', 'readings_native']) {
        db.prepare(`UPDATE ${table} SET value = value * 2, note = 'doubled' WHERE ts < 50`).run();
        db.prepare(`DELETE FROM ${table} WHERE sensor = 'sensor-5' AND ts > 500`).run();
      }
    })();
    compare(db, 'after update and delete');
    db.close();

    // The store persists: a new connection sees the same rows.
    db = open(file);
    compare(db, 'after reopen');
    const stats = JSON.parse(db.prepare("SELECT manifold_stats('readings') AS s").get().s);
    const native = db.prepare('SELECT count(*) AS n FROM readings_native').get().n;
    if (stats.engine !== 'btree' || stats.rows !== native) {
      failures++;
      console.error(`mismatch: manifold_stats ${JSON.stringify(stats)}, native rows ${native}`);
    }
    console.log(`readings: ${native} rows in ${stats.engine} store ${path.basename(stats.path)}`);
    db.close();
  } finally {
    fs.rmSync(directory, { recursive: true, force: true });
  }
  if (failures > 0) {
    console.error(`node example: ${failures} mismatches`);
    return 1;
  }
  console.log('node example: ok');
  return 0;
}

process.exitCode = main();
