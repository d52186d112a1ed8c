// `strata chat` in a pseudo-terminal, as a user types into it: two turns, /reset and /exit. The first reply must be
// the text `strata generate` gives for the same prompt and template; the second turn (with history) must answer too.
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/support/temp_dir.h"

namespace {

// A child process on the slave side of a pty; the test reads and writes the master side.
class PtyProcess {
 public:
  explicit PtyProcess(const std::vector<std::string>& argv) {
    struct winsize ws {};
    ws.ws_col = 200;
    ws.ws_row = 50;
    pid_ = forkpty(&master_, nullptr, nullptr, &ws);
    if (pid_ == 0) {
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
  }
  ~PtyProcess() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (master_ >= 0) close(master_);
  }
  bool started() const { return pid_ > 0 && master_ >= 0; }

  // Everything the terminal shows until `needle` appears after what was read so far (or the timeout, or EOF).
  std::string read_until(const std::string& needle, double seconds = 60) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    std::string got;
    while (got.find(needle) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      struct pollfd p {master_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      char buf[4096];
      const ssize_t n = read(master_, buf, sizeof buf);
      if (n <= 0) break;  // EIO: the child closed the terminal
      got.append(buf, (size_t)n);
    }
    return got;
  }
  void type(const std::string& line) { ASSERT_EQ(write(master_, line.data(), line.size()), (ssize_t)line.size()); }
  // The exit status, or -1 when it has not exited within `seconds`.
  int wait_exit(double seconds = 30) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
      read_until("\x01", 0.05);  // drain, so the child never blocks on a full terminal
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int master_ = -1;
  bool exited_ = false;
};

std::string without_cr(std::string s) {
  std::string out;
  for (char c : s)
    if (c != '\r') out += c;
  return out;
}

std::string run_capture(const std::string& cmd) {
  std::string out;
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  pclose(f);
  return out;
}

TEST(ChatTerminal, TwoTurnsTypedIntoAPtyAreAnswered) {
  strata::test::TempDir dir;
  const std::string run = dir.path() + "/run", bin = STRATA_BINARY;
  // A briefly trained tiny model (generated stories, byte tokenizer) so that replies are text, not noise.
  ASSERT_EQ(0, std::system((bin + " train " + STRATA_SOURCE_DIR + "/configs/tiny.toml --set output.dir=" + run +
                            " --set train.steps=60 > " + dir.path() + "/train.log 2>&1")
                               .c_str()));
  const auto json = nlohmann::json::parse(run_capture(bin + " generate " + run +
                                                      " --prompt 'Tell me a story' --chat-template llama2"
                                                      " --max-new-tokens 24 --json 2>/dev/null"));
  const std::string expected = json["text"];
  ASSERT_FALSE(expected.empty());

  PtyProcess chat({bin, "chat", run, "--chat-template", "llama2", "--max-new-tokens", "24"});
  ASSERT_TRUE(chat.started());
  const std::string banner = chat.read_until("> ");
  ASSERT_NE(banner.find("/reset"), std::string::npos) << banner;
  chat.type("Tell me a story\n");
  const std::string first = without_cr(chat.read_until("\n> "));
  EXPECT_NE(first.find(expected), std::string::npos) << "first reply:\n" << first << "\nexpected:\n" << expected;
  EXPECT_NE(first.find("generated: "), std::string::npos) << first;
  chat.type("And then?\n");
  const std::string second = without_cr(chat.read_until("\n> "));
  EXPECT_NE(second.find("generated: "), std::string::npos) << second;
  const size_t echo = second.find("And then?\n");
  ASSERT_NE(echo, std::string::npos) << second;
  EXPECT_GT(second.find("(prompt: ") - echo, std::string("And then?\n").size() + 1) << "an empty second reply";
  chat.type("/reset\n");
  EXPECT_NE(chat.read_until("\n> ").find("(history cleared)"), std::string::npos);
  chat.type("/exit\n");
  EXPECT_EQ(chat.wait_exit(), 0);
}

}  // namespace
