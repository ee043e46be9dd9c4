// SavepointStack: SQLite-style savepoint levels over snapshots of any state.
// Engines whose state can be captured cheaply (copy-on-write roots) keep one of
// these per write transaction. Not thread-safe (owned by one transaction).
#ifndef MANIFOLD_ENGINES_COMMON_SAVEPOINT_STACK_H_
#define MANIFOLD_ENGINES_COMMON_SAVEPOINT_STACK_H_

#include <optional>
#include <utility>
#include <vector>

namespace manifold {

template <typename State>
class SavepointStack {
 public:
  // Records `state` as savepoint `level`, discarding savepoints at `level` and above.
  void Mark(int level, State state) {
    Release(level);
    entries_.push_back(Entry{level, std::move(state)});
  }

  // Returns the state to restore for RollbackTo(level): that of the oldest
  // savepoint at `level` or above, which stays open as `level`; later ones are
  // discarded. Returns nullopt when no savepoint is at or above `level`.
  std::optional<State> RollbackTo(int level) {
    for (size_t i = 0; i < entries_.size(); ++i) {
      if (entries_[i].level >= level) {
        entries_.resize(i + 1);
        entries_[i].level = level;
        return entries_[i].state;
      }
    }
    return std::nullopt;
  }

  // Forgets savepoints at `level` and above.
  void Release(int level) {
    while (!entries_.empty() && entries_.back().level >= level) entries_.pop_back();
  }

  void Clear() { entries_.clear(); }
  bool empty() const { return entries_.empty(); }

 private:
  struct Entry {
    int level;
    State state;
  };
  std::vector<Entry> entries_;
};

}  // namespace manifold

#endif  // MANIFOLD_ENGINES_COMMON_SAVEPOINT_STACK_H_
