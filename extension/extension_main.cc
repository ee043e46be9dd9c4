// manifold.so is manifold_sql linked whole; its entry point,
// sqlite3_manifold_init, lives in module.cc.
