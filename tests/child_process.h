// Runs the test binary itself again as a child process, for tests that kill
// a writer with SIGKILL or limit its file sizes. The child is a fresh exec of
// /proc/self/exe, not a bare fork: a library that keeps background threads
// (RocksDB's thread pools) cannot be used in a forked copy of a process that
// already had them.
//
// A test file names the function the child runs with
// MANIFOLD_TEST_CHILD_MAIN(fn); `fn(arg, fd)` gets the argument given to
// SpawnChild and the write end of a pipe the parent reads, and its return
// value is the child's exit status. In the child, GoogleTest's global
// environment runs `fn` before any test and exits.
#ifndef MANIFOLD_TESTS_CHILD_PROCESS_H_
#define MANIFOLD_TESTS_CHILD_PROCESS_H_

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

extern char** environ;

namespace manifold::testing {

using ChildMain = int (*)(const std::string& arg, int fd);

constexpr const char* kChildArgVariable = "MANIFOLD_TEST_CHILD";
constexpr const char* kChildFdVariable = "MANIFOLD_TEST_CHILD_FD";

class ChildEnvironment : public ::testing::Environment {
 public:
  explicit ChildEnvironment(ChildMain main) : main_(main) {}
  void SetUp() override {
    const char* arg = std::getenv(kChildArgVariable);
    const char* fd = std::getenv(kChildFdVariable);
    if (arg == nullptr || fd == nullptr) return;  // the parent: run the tests
    ::_exit(main_(arg, std::atoi(fd)));
  }

 private:
  ChildMain main_;
};

#define MANIFOLD_TEST_CHILD_MAIN(fn)                                   \
  [[maybe_unused]] static ::testing::Environment* const child_env_ = \
      ::testing::AddGlobalTestEnvironment(new ::manifold::testing::ChildEnvironment(fn))

// A running child: its pid and the read end of its pipe.
struct Child {
  pid_t pid = -1;
  int fd = -1;
};

// Starts the child with `arg`. With `file_size_limit`, the child runs under
// RLIMIT_FSIZE of that many bytes with SIGXFSZ ignored, so a write past the
// limit fails with EFBIG instead of killing it. The child's stdout (the
// GoogleTest banner) goes to /dev/null; its stderr is the parent's.
inline Child SpawnChild(const std::string& arg, std::optional<rlim_t> file_size_limit = {}) {
  Child child;
  int fds[2];
  if (::pipe(fds) != 0) {
    ADD_FAILURE() << "pipe: " << std::strerror(errno);
    return child;
  }
  // Everything the child needs is built before fork: between fork and exec
  // it calls only async-signal-safe functions.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    if (entry.rfind(std::string(kChildArgVariable) + "=", 0) == 0 ||
        entry.rfind(std::string(kChildFdVariable) + "=", 0) == 0 ||
        entry.rfind("GTEST_", 0) == 0) {
      continue;
    }
    env_strings.emplace_back(entry);
  }
  env_strings.push_back(std::string(kChildArgVariable) + "=" + arg);
  env_strings.push_back(std::string(kChildFdVariable) + "=" + std::to_string(fds[1]));
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  char self[] = "/proc/self/exe";
  char filter[] = "--gtest_filter=*";
  char* argv[] = {self, filter, nullptr};
  rlimit limit{};
  if (file_size_limit) limit = {*file_size_limit, *file_size_limit};

  pid_t pid = ::fork();
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    ::close(fds[0]);
    ::close(fds[1]);
    return child;
  }
  if (pid == 0) {
    ::close(fds[0]);
    int devnull = ::open("/dev/null", O_WRONLY);
    if (devnull >= 0) ::dup2(devnull, 1);
    if (file_size_limit) {
      ::signal(SIGXFSZ, SIG_IGN);  // an ignored signal stays ignored across exec
      if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) ::_exit(126);
    }
    ::execve(self, argv, envp.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  child.pid = pid;
  child.fd = fds[0];
  return child;
}

// Reads what is available on `fd` into `out` until `deadline` or end of
// file; returns false at end of file.
inline bool ReadUntil(int fd, std::string& out, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    auto now = std::chrono::steady_clock::now();
    int timeout_ms = 0;
    if (deadline > now) {
      timeout_ms = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count());
    }
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, timeout_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return true;  // deadline reached
    char buf[4096];
    ssize_t got = ::read(fd, buf, sizeof(buf));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    out.append(buf, static_cast<size_t>(got));
  }
}

// Reads everything up to end of file (the child has exited or was killed).
inline void ReadAll(int fd, std::string& out) {
  char buf[4096];
  for (;;) {
    ssize_t got = ::read(fd, buf, sizeof(buf));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return;
    out.append(buf, static_cast<size_t>(got));
  }
}

// What a child run to its end wrote, and how it ended.
struct Finished {
  int status = 0;     // from waitpid
  std::string out;    // everything it wrote to its pipe
  bool hung = false;  // still running at the deadline, then killed
};

// Reads everything `child` writes until it closes its pipe, for at most
// `limit`; a child still running then is killed (a hang). Reaps it.
inline Finished WaitForChild(const Child& child, std::chrono::steady_clock::duration limit) {
  Finished finished;
  auto deadline = std::chrono::steady_clock::now() + limit;
  bool open = true;
  while (open && std::chrono::steady_clock::now() < deadline) {
    open = ReadUntil(child.fd, finished.out, deadline);
  }
  if (open) {
    finished.hung = true;
    ::kill(child.pid, SIGKILL);
  }
  ::waitpid(child.pid, &finished.status, 0);
  ReadAll(child.fd, finished.out);
  ::close(child.fd);
  return finished;
}

// How a child ended, for messages.
inline std::string DescribeStatus(int status) {
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  return "status " + std::to_string(status);
}

// For a child's reports: writes `line` and a newline to `fd`.
inline void Say(int fd, const std::string& line) {
  std::string text = line + "\n";
  (void)!::write(fd, text.data(), text.size());
}

// `s` with its newlines as spaces, to fit in one report line.
inline std::string OneLine(std::string s) {
  for (char& c : s) {
    if (c == '\n') c = ' ';
  }
  return s;
}

}  // namespace manifold::testing

#endif  // MANIFOLD_TESTS_CHILD_PROCESS_H_
