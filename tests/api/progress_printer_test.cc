#include "api/progress_printer.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace taskdex {
namespace {

// What was written to a temporary FILE*.
std::string Contents(FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string s;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  return s;
}

LoadProgress Parse(uint64_t done, uint64_t total, uint64_t lines) {
  LoadProgress p;
  p.file = "task_runs.ndjson";
  p.bytes_done = done;
  p.bytes_total = total;
  p.lines_done = lines;
  return p;
}

LoadProgress Build(uint64_t lines) {
  LoadProgress p;
  p.phase = "build";
  p.lines_done = lines;
  return p;
}

TEST(ProgressPrinterTest, FormatsParseWithPercentRateAndTimeLeft) {
  // 50 MB of 200 MB in 2 s: 25 MB/s, 150 MB left, 6 s.
  std::string line = ProgressPrinter::Format(Parse(50'000'000, 200'000'000, 1234), 2.0);
  EXPECT_EQ(line,
            "parse task_runs.ndjson:  25.0%  1234 lines  50.0/200.0 MB  25.0 MB/s  6 s left");
}

TEST(ProgressPrinterTest, FormatsBuild) {
  EXPECT_EQ(ProgressPrinter::Format(Build(42), 1.5),
            "build: joins and dictionaries of 42 lines (parsed in 1.5 s)");
  LoadProgress indexes = Build(42);
  indexes.phase = "indexes";
  EXPECT_EQ(ProgressPrinter::Format(indexes, 2.5),
            "build: indexes (sorted orders, postings, trigrams) of 42 lines, 2.5 s so far");
}

TEST(ProgressPrinterTest, TerminalRedrawsOneLineAndFinishEndsIt) {
  FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  {
    ProgressPrinter printer("taskdex query", false, ProgressPrinter::WhenNotTerminal::kSilent, f,
                            /*terminal=*/true);
    printer.Update(Parse(1, 10, 1));
    printer.Update(Parse(2, 10, 2));  // within 100 ms of the first: not drawn
    printer.Update(Build(10));        // a new phase: drawn at once
    printer.Finish();
  }
  std::string out = Contents(f);
  std::fclose(f);
  EXPECT_EQ(out.rfind("\rtaskdex query: parse task_runs.ndjson:", 0), 0u) << out;
  EXPECT_EQ(out.find(" 2 lines"), std::string::npos) << out;
  EXPECT_NE(out.find("\rtaskdex query: build: joins and dictionaries of 10 lines"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(out.find('\n'), out.size() - 1) << "one live line, ended once";
}

TEST(ProgressPrinterTest, NotATerminalIsSilentForScriptCommands) {
  FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  {
    ProgressPrinter printer("taskdex query", false, ProgressPrinter::WhenNotTerminal::kSilent, f,
                            /*terminal=*/false);
    printer.Update(Parse(1, 10, 1));
    printer.Update(Build(10));
    printer.Finish();
  }
  EXPECT_EQ(Contents(f), "");
  std::fclose(f);
}

TEST(ProgressPrinterTest, NotATerminalPrintsWholeLinesForServe) {
  FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  {
    ProgressPrinter printer("taskdex serve", false,
                            ProgressPrinter::WhenNotTerminal::kLineEvery2s, f, false);
    printer.Update(Parse(1, 10, 1));
    printer.Update(Parse(2, 10, 2));  // within 2 s: not printed
    printer.Update(Build(10));
    printer.Finish();
  }
  std::string out = Contents(f);
  std::fclose(f);
  EXPECT_EQ(out.find('\r'), std::string::npos) << out;
  EXPECT_EQ(out.rfind("taskdex serve: parse task_runs.ndjson:", 0), 0u) << out;
  EXPECT_NE(out.find("\ntaskdex serve: build: joins and dictionaries of 10 lines"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find(" 2 lines"), std::string::npos) << out;
}

TEST(ProgressPrinterTest, QuietPrintsNothingEvenOnATerminal) {
  FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  {
    ProgressPrinter printer("taskdex bench", true, ProgressPrinter::WhenNotTerminal::kLineEvery2s,
                            f, true);
    printer.Update(Parse(1, 10, 1));
    printer.Update(Build(10));
    printer.Finish();
  }
  EXPECT_EQ(Contents(f), "");
  std::fclose(f);
}

}  // namespace
}  // namespace taskdex
