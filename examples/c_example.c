/* manifold from C: open a database with the SQLite C API, allow extension
 * loading for the C API only, load manifold, keep a table in a B+tree store in
 * a temporary directory, write it in one transaction and read it back.
 *
 *   c_example path/to/manifold       (the .so suffix may be left out)
 *
 * Exits 0 and prints "c example: ok" when every result is as expected.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <string.h>
#include <unistd.h>

/* Prints what failed, with SQLite's message, and returns 1. */
static int fail(sqlite3* db, const char* what) {
  fprintf(stderr, "c_example: %s: %s\n", what, db != NULL ? sqlite3_errmsg(db) : "");
  return 1;
}

/* Runs statements that return no rows. */
static int exec(sqlite3* db, const char* sql) {
  char* message = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &message) != SQLITE_OK) {
    fprintf(stderr, "c_example: %s\n  in: %s\n", message != NULL ? message : "?", sql);
    sqlite3_free(message);
    return 1;
  }
  return 0;
}

/* Loads manifold into db; only the C API may load extensions, never SQL's
 * load_extension(). */
static int load_manifold(sqlite3* db, const char* path) {
  char* message = NULL;
  int enabled = 0;
  if (sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 1, &enabled) != SQLITE_OK ||
      !enabled) {
    return fail(db, "enabling extension loading");
  }
  /* NULL entry point: SQLite derives sqlite3_manifold_init from the file name. */
  if (sqlite3_load_extension(db, path, NULL, &message) != SQLITE_OK) {
    fprintf(stderr, "c_example: loading %s: %s\n", path, message != NULL ? message : "?");
    sqlite3_free(message);
    return 1;
  }
  /* Nothing else may load code into this connection from here on. */
  sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, &enabled);
  return 0;
}

/* Writes the rows, then checks what a query returns. */
static int run(sqlite3* db, const char* directory) {
  static const char* const kNames[] = {"apple", "banana", "cherry"};
  static const int kCounts[] = {5, 6, 7};
  char* sql;
  sqlite3_stmt* stmt = NULL;
  int rc, row = 0, i, failed = 0;

  /* The store lives in the temporary directory; the table in the in-memory database. */
  sql = sqlite3_mprintf(
      "CREATE VIRTUAL TABLE fruit USING btree(path=%Q, name TEXT PRIMARY KEY, count INTEGER)",
      directory);
  if (sql == NULL) return fail(db, "out of memory");
  failed = exec(db, sql);
  sqlite3_free(sql);
  if (failed) return 1;

  /* One transaction; a prepared statement with parameters, reset per row. */
  if (exec(db, "BEGIN")) return 1;
  if (sqlite3_prepare_v2(db, "INSERT INTO fruit(name, count) VALUES (?1, ?2)", -1, &stmt, NULL) !=
      SQLITE_OK) {
    return fail(db, "prepare INSERT");
  }
  for (i = 2; i >= 0; --i) {
    sqlite3_bind_text(stmt, 1, kNames[i], -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 2, kCounts[i]);
    if (sqlite3_step(stmt) != SQLITE_DONE) {
      failed = fail(db, "INSERT");
      break;
    }
    sqlite3_reset(stmt);
  }
  sqlite3_finalize(stmt);
  if (failed) return 1;
  if (exec(db, "COMMIT")) return 1;

  /* The key orders the rows; typeof() shows INTEGER affinity was applied. */
  if (sqlite3_prepare_v2(db,
                         "SELECT name, count, typeof(count) FROM fruit WHERE name >= ?1 "
                         "ORDER BY name",
                         -1, &stmt, NULL) != SQLITE_OK) {
    return fail(db, "prepare SELECT");
  }
  sqlite3_bind_text(stmt, 1, "a", -1, SQLITE_STATIC);
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    const char* name = (const char*)sqlite3_column_text(stmt, 0);
    int count = sqlite3_column_int(stmt, 1);
    const char* type = (const char*)sqlite3_column_text(stmt, 2);
    printf("%s = %d (%s)\n", name, count, type);
    if (row >= 3 || strcmp(name, kNames[row]) != 0 || count != kCounts[row] ||
        strcmp(type, "integer") != 0) {
      fprintf(stderr, "c_example: unexpected row %d: %s = %d (%s)\n", row, name, count, type);
      failed = 1;
    }
    ++row;
  }
  if (rc != SQLITE_DONE) failed = fail(db, "SELECT");
  sqlite3_finalize(stmt);
  if (row != 3) {
    fprintf(stderr, "c_example: %d rows, expected 3\n", row);
    failed = 1;
  }
  return failed;
}

/* Removes the files of the temporary directory (the store), then the directory. */
static void remove_directory(const char* directory) {
  DIR* dir = opendir(directory);
  struct dirent* entry;
  char path[512];
  if (dir != NULL) {
    while ((entry = readdir(dir)) != NULL) {
      if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) continue;
      snprintf(path, sizeof(path), "%s/%s", directory, entry->d_name);
      unlink(path);
    }
    closedir(dir);
  }
  rmdir(directory);
}

int main(int argc, char** argv) {
  const char* extension = argc > 1 ? argv[1] : "./build/manifold";
  char directory[] = "/tmp/manifold-c-example-XXXXXX";
  char store[sizeof(directory) + 16];
  sqlite3* db = NULL;
  int failed;

  if (mkdtemp(directory) == NULL) {
    perror("c_example: mkdtemp");
    return 1;
  }
  snprintf(store, sizeof(store), "%s/fruit.btree", directory);

  if (sqlite3_open(":memory:", &db) != SQLITE_OK) {
    failed = fail(db, "open");
  } else {
    failed = load_manifold(db, extension);
    if (!failed) failed = run(db, store);
  }
  /* sqlite3_close_v2 frees everything, manifold's tables and stores included. */
  sqlite3_close_v2(db);
  remove_directory(directory);
  if (failed) return 1;
  printf("c example: ok\n");
  return 0;
}
