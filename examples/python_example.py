#!/usr/bin/python3
"""manifold from Python: load the extension into Debian's sqlite3 module,
create a table, write with parameters, read it back.

    /usr/bin/python3 examples/python_example.py [path/to/manifold]

The path defaults to ./build/manifold (the .so suffix may be left out).
"""

import os
import sqlite3
import sys
import tempfile


def main():
    extension = sys.argv[1] if len(sys.argv) > 1 else "./build/manifold"
    with tempfile.TemporaryDirectory(prefix="manifold-python-") as directory:
        conn = sqlite3.connect(os.path.join(directory, "example.db"))
        conn.enable_load_extension(True)
        conn.load_extension(os.path.abspath(extension))
        conn.enable_load_extension(False)  # nothing else may load code from here on

        print("manifold", conn.execute("SELECT manifold_version()").fetchone()[0])

        # The default engine keeps its store beside example.db.
        conn.execute("""CREATE VIRTUAL TABLE books USING manifold(
                          isbn TEXT PRIMARY KEY, title TEXT NOT NULL, year INTEGER)""")
        books = [
            ("978-0262033848", "Introduction to Algorithms", 1990),
            ("978-0201633610", "Design Patterns", 1994),
            ("978-0131103627", "The C Programming Language", "1978"),  # INTEGER affinity
        ]
        with conn:  # one transaction, committed on success
            conn.executemany("INSERT INTO books VALUES (?, ?, ?)", books)

        try:
            conn.execute("INSERT INTO books VALUES (?, ?, ?)", ("978-0201633610", "Again", 2000))
        except sqlite3.IntegrityError as e:
            print("duplicate refused:", e)
        conn.rollback()

        rows = conn.execute("SELECT isbn, title, year, typeof(year) FROM books "
                            "WHERE isbn >= ? ORDER BY isbn", ("978-02",)).fetchall()
        for row in rows:
            print(row)
        expected = [
            ("978-0201633610", "Design Patterns", 1994, "integer"),
            ("978-0262033848", "Introduction to Algorithms", 1990, "integer"),
        ]
        if rows != expected:
            print("unexpected rows:", rows, "expected:", expected)
            return 1
        count = conn.execute("SELECT count(*) FROM books").fetchone()[0]
        if count != 3:
            print("unexpected count:", count)
            return 1
        conn.close()
    print("python example: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
