// bench/query_mix.cc
//
// The first mix (28 bodies) is kept byte for byte; the planner shapes follow.
// Letters and fragments for `like_` come from the names of the big flow
// run's task runs, so they match; `_` and `%` (wildcards) are never picked.

#include "bench/query_mix.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace taskdex {
namespace {

char Fold(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
bool IsLetter(char c) { return c >= 'a' && c <= 'z'; }

// Runs of `names` containing each letter (case-folded), at most once a name.
std::array<int, 26> LetterCounts(const std::vector<std::string>& names) {
  std::array<int, 26> counts{};
  for (const std::string& n : names) {
    std::array<bool, 26> seen{};
    for (char c : n) {
      c = Fold(c);
      if (IsLetter(c)) seen[c - 'a'] = true;
    }
    for (int i = 0; i < 26; ++i) counts[i] += seen[i];
  }
  return counts;
}

// The commonest (or rarest present) letter of `names`; "e" if none.
std::string Letter(const std::vector<std::string>& names, bool rarest) {
  std::array<int, 26> counts = LetterCounts(names);
  int best = -1;
  for (int i = 0; i < 26; ++i) {
    if (counts[i] == 0) continue;
    if (best < 0 || (rarest ? counts[i] < counts[best] : counts[i] > counts[best])) best = i;
  }
  return std::string(1, best < 0 ? 'e' : static_cast<char>('a' + best));
}

// The commonest two-letter fragment (both letters) of `names`; "lo" if none.
std::string Bigram(const std::vector<std::string>& names) {
  std::map<std::string, int> counts;
  for (const std::string& n : names) {
    for (size_t i = 0; i + 1 < n.size(); ++i) {
      char a = Fold(n[i]), b = Fold(n[i + 1]);
      if (IsLetter(a) && IsLetter(b)) ++counts[std::string{a, b}];
    }
  }
  std::string best = "lo";
  int best_count = 0;
  for (const auto& [k, c] : counts) {
    if (c > best_count) best = k, best_count = c;
  }
  return best;
}

// The first letter run of `name`, first letter upper case, rest lower
// ("fetch_orders" -> "Fetch"): a mixed-case pattern that matches it.
std::string MixedCaseWord(const std::string& name) {
  std::string w;
  for (char c : name) {
    c = Fold(c);
    if (!IsLetter(c)) break;
    w += c;
  }
  if (w.empty()) w = "load";
  w[0] = static_cast<char>(w[0] - 'a' + 'A');
  return w;
}

// Two letters of `name` in a row, case-folded; "e" if it has none.
std::string FragmentOf(const std::string& name) {
  for (size_t i = 1; i + 1 < name.size(); ++i) {
    char a = Fold(name[i]), b = Fold(name[i + 1]);
    if (IsLetter(a) && IsLetter(b)) return std::string{a, b};
  }
  return "e";
}

std::string QuotedList(const std::vector<std::string>& v) {
  return absl::StrCat("\"", absl::StrJoin(v, "\",\""), "\"");
}

uint64_t DeepPage(uint64_t matches, uint64_t limit, uint64_t want) {
  return std::clamp<uint64_t>(matches / limit / 2, 1, want);
}

}  // namespace

std::string QueryMixFile(const QueryMixFacts& f) {
  const uint64_t n = f.task_runs;
  const std::vector<std::string>& tags = f.tags;
  const std::string& big_id = f.big_flow_run_id;
  std::string upper = f.common_name;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  uint64_t deep = std::max<uint64_t>(1, n / 25 > 5 ? n / 25 - 5 : 1);
  const char* a = R"("operator":"and_")";

  std::vector<std::pair<std::string, std::string>> q = {
      {"no_filter", "{}"},
      {"flow_run_tasks_by_expected_start",
       absl::StrFormat(R"({"sort":"EXPECTED_START_TIME_ASC","limit":50,"page":1,"flow_runs":{%s,"id":{"any_":["%s"]}}})",
                       a, big_id)},
      {"flow_run_tasks_via_flow_run_id",
       absl::StrFormat(R"({"sort":"EXPECTED_START_TIME_DESC","limit":20,"page":2,"task_runs":{%s,"flow_run_id":{%s,"any_":["%s"]}}})",
                       a, a, big_id)},
      {"failed_last_day",
       absl::StrFormat(R"({"sort":"EXPECTED_START_TIME_DESC","limit":25,"page":1,"task_runs":{%s,"state":{%s,"type":{"any_":["FAILED","CRASHED"]}},"expected_start_time":{"after_":"%s"}}})",
                       a, a, f.day_ago)},
      {"failed_last_week",
       absl::StrFormat(R"({"sort":"END_TIME_DESC","limit":25,"task_runs":{"state":{"type":{"any_":["FAILED"]}},"start_time":{"after_":"%s","before_":"%s"}}})",
                       f.week_ago, f.now_text)},
      {"name_like_common",
       absl::StrFormat(R"({"limit":50,"task_runs":{"name":{"like_":"%s"}}})", f.common_name)},
      {"name_like_rare",
       absl::StrFormat(R"({"limit":50,"task_runs":{"name":{"like_":"%s"}}})", f.rare_name)},
      {"name_like_upper_case",
       absl::StrFormat(R"({"sort":"NAME_ASC","limit":30,"task_runs":{"name":{"like_":"%s"}}})",
                       upper)},
      {"tags_all_common",
       absl::StrFormat(R"({"task_runs":{"tags":{%s,"all_":["%s"]}}})", a, tags[0])},
      {"tags_all_two",
       absl::StrFormat(R"({"limit":100,"task_runs":{"tags":{"all_":["%s","%s"]}}})", tags[0],
                       tags[1])},
      {"tags_all_rare", absl::StrFormat(R"({"task_runs":{"tags":{"all_":["%s"]}}})", tags[40])},
      {"flow_name_any",
       absl::StrFormat(R"({"sort":"END_TIME_DESC","limit":20,"flows":{%s,"name":{"any_":["%s","%s"]}}})",
                       a, f.mixed_flow, f.second_flow)},
      {"flow_name_like", absl::StrFormat(R"({"flows":{"name":{"like_":"%s"}}})", f.like_flow)},
      {"deployment_ids",
       absl::StrFormat(R"({"deployments":{%s,"id":{"any_":["%s","%s"]}}})", a, f.dep1, f.dep2)},
      {"deployments_paused", R"({"deployments":{"paused":{"eq_":true}}})"},
      {"flow_run_state_types",
       absl::StrFormat(R"({"sort":"EXPECTED_START_TIME_DESC","flow_runs":{%s,"state":{%s,"type":{"any_":["RUNNING","PENDING","PAUSED","CANCELLING"]}}}})",
                       a, a)},
      {"flow_run_state_failed", R"({"flow_runs":{"state":{"type":{"any_":["FAILED","CRASHED"]}}}})"},
      {"or_state_or_tags",
       absl::StrFormat(R"({"sort":"NAME_DESC","limit":100,"task_runs":{"operator":"or_","state":{"type":{"any_":["FAILED"]}},"tags":{"all_":["%s"]}}})",
                       tags[2])},
      {"or_name_like",
       absl::StrFormat(R"({"task_runs":{"operator":"or_","name":{"like_":"%s"},"flow_run_id":{"is_null_":true}}})",
                       f.rare_name)},
      {"subflow_parent_tasks", R"({"task_runs":{"subflow_runs":{"exists_":true}}})"},
      {"deep_page", absl::StrFormat(R"({"limit":25,"page":%d})", deep)},
      {"sort_id_desc", R"({"sort":"ID_DESC","limit":10})"},
      {"sort_expected_start_time_asc", R"({"sort":"EXPECTED_START_TIME_ASC","limit":10})"},
      {"sort_expected_start_time_desc", R"({"sort":"EXPECTED_START_TIME_DESC","limit":10})"},
      {"sort_name_asc", R"({"sort":"NAME_ASC","limit":10})"},
      {"sort_name_desc", R"({"sort":"NAME_DESC","limit":10})"},
      {"sort_next_scheduled_start_time_asc",
       R"({"sort":"NEXT_SCHEDULED_START_TIME_ASC","limit":10,"task_runs":{"state":{"type":{"any_":["SCHEDULED"]}}}})"},
      {"sort_end_time_desc", R"({"sort":"END_TIME_DESC","limit":10})"},
  };

  // ---- planner shapes (issue 9) ----
  const std::vector<std::string>& names = f.big_task_names;
  const std::string common_letter = Letter(names, false);
  const std::string rare_letter = Letter(names, true);
  const std::string mixed = MixedCaseWord(f.common_name);
  // Short like_ over the whole name dictionary.
  q.emplace_back("like_one_letter_common",
                 absl::StrFormat(R"({"limit":25,"task_runs":{"name":{"like_":"%s"}}})",
                                 common_letter));
  q.emplace_back("like_one_letter_rare_name_desc",
                 absl::StrFormat(R"({"sort":"NAME_DESC","limit":25,"task_runs":{"name":{"like_":"%s"}}})",
                                 rare_letter));
  q.emplace_back("like_two_letters",
                 absl::StrFormat(R"({"sort":"EXPECTED_START_TIME_DESC","limit":25,"task_runs":{"name":{"like_":"%s"}}})",
                                 Bigram(names)));
  q.emplace_back("like_mixed_case_name_asc",
                 absl::StrFormat(R"({"sort":"NAME_ASC","limit":25,"task_runs":{"name":{"like_":"%s"}}})",
                                 mixed));
  q.emplace_back("like_mixed_case_failed",
                 absl::StrFormat(R"({"sort":"END_TIME_DESC","limit":25,"task_runs":{"name":{"like_":"%s"},"state":{"type":{"any_":["FAILED","CRASHED"]}}}})",
                                 mixed));
  if (!f.dated_fragment.empty()) {
    q.emplace_back("like_date_fragment",
                   absl::StrFormat(R"({"sort":"NAME_ASC","limit":50,"task_runs":{"name":{"like_":"%s"}}})",
                                   f.dated_fragment));
  }
  // like_ next to a selective leaf.
  q.emplace_back("one_flow_run_like_one_letter_no_subflow",
                 absl::StrFormat(R"({"sort":"EXPECTED_START_TIME_ASC","limit":50,"flow_runs":{"id":{"any_":["%s"]}},"task_runs":{"name":{"like_":"%s"},"subflow_runs":{"exists_":false}}})",
                                 big_id, common_letter));
  if (!f.big_task_ids.empty()) {
    std::vector<std::string> ids, three;
    size_t k = f.big_task_ids.size();
    for (size_t i = 0; i < 5 && i < k; ++i) ids.push_back(f.big_task_ids[i * k / 5]);
    for (size_t i = 0; i < k && three.size() < 3; ++i) {
      const std::string& nm = names[i * 7 % k];
      if (std::find(three.begin(), three.end(), nm) == three.end()) three.push_back(nm);
    }
    q.emplace_back("task_run_ids_like",
                   absl::StrFormat(R"({"task_runs":{"id":{"any_":[%s]},"name":{"like_":"%s"}}})",
                                   QuotedList(ids), FragmentOf(names[0]).substr(0, 1)));
    q.emplace_back("names_any_three_like",
                   absl::StrFormat(R"({"sort":"NAME_ASC","task_runs":{"name":{"any_":[%s],"like_":"%s"}}})",
                                   QuotedList(three), FragmentOf(three[0])));
  }
  // or_ at each level.
  q.emplace_back("or_state_name_tags_like",
                 absl::StrFormat(R"({"sort":"EXPECTED_START_TIME_DESC","limit":50,"task_runs":{"operator":"or_","state":{"name":{"any_":["Cached","Retrying"]}},"tags":{"all_":["%s"]},"name":{"like_":"%s"}}})",
                                 tags[5], f.rare_name));
  q.emplace_back("flow_run_or_no_deployment_or_tags",
                 absl::StrFormat(R"({"sort":"END_TIME_DESC","limit":25,"flow_runs":{"operator":"or_","deployment_id":{"is_null_":true},"tags":{"any_":["%s","%s"]}}})",
                                 tags[3], tags[7]));
  q.emplace_back("deployments_paused_with_tag",
                 absl::StrFormat(R"({"sort":"EXPECTED_START_TIME_DESC","limit":25,"deployments":{"paused":{"eq_":true},"tags":{"any_":["%s"]}}})",
                                 f.paused_tag));
  q.emplace_back("deployments_or_paused_tags",
                 absl::StrFormat(R"({"limit":25,"deployments":{"operator":"or_","paused":{"eq_":true},"tags":{"all_":["%s"]}}})",
                                 f.paused_tag));
  // Subflow existence with a flow-run time range (COALESCE(start, expected)).
  q.emplace_back("subflow_parents_six_days",
                 absl::StrFormat(R"({"sort":"EXPECTED_START_TIME_DESC","limit":25,"task_runs":{"subflow_runs":{"exists_":true}},"flow_runs":{"start_time":{"after_":"%s","before_":"%s"}}})",
                                 f.subflow_after, f.subflow_before));
  q.emplace_back("no_subflow_one_day",
                 absl::StrFormat(R"({"sort":"END_TIME_DESC","limit":25,"task_runs":{"subflow_runs":{"exists_":false}},"flow_runs":{"start_time":{"after_":"%s","before_":"%s"}}})",
                                 f.two_days_ago, f.day_ago));
  // Dense results (most rows match) under each sort.
  for (const char* sort : {"ID_DESC", "EXPECTED_START_TIME_ASC", "EXPECTED_START_TIME_DESC",
                           "NAME_ASC", "NAME_DESC", "NEXT_SCHEDULED_START_TIME_ASC",
                           "END_TIME_DESC"}) {
    std::string name = absl::StrCat("dense_completed_", sort);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    q.emplace_back(name,
                   absl::StrFormat(R"({"sort":"%s","limit":25,"task_runs":{"state":{"type":{"any_":["COMPLETED"]}}}})",
                                   sort));
  }
  q.emplace_back("dense_flow_run_completed_tags_name_asc",
                 R"({"sort":"NAME_ASC","limit":50,"task_runs":{"tags":{"is_null_":false}},"flow_runs":{"state":{"type":{"any_":["COMPLETED"]}}}})");
  // Deep pages of filtered results: pages 500 and 50 at 1M task runs (fewer
  // on small data sets, so the page is inside the result).
  q.emplace_back("deep_page_completed_expected_desc",
                 absl::StrFormat(R"({"sort":"EXPECTED_START_TIME_DESC","limit":25,"page":%d,"task_runs":{"state":{"type":{"any_":["COMPLETED"]}}}})",
                                 DeepPage(n * 7 / 10, 25, 500)));
  q.emplace_back("deep_page_tag_name_asc",
                 absl::StrFormat(R"({"sort":"NAME_ASC","limit":50,"page":%d,"task_runs":{"tags":{"all_":["%s"]}}})",
                                 DeepPage(n / 4, 50, 50), tags[0]));
  q.emplace_back("deep_page_flow_run_failed_end_desc",
                 absl::StrFormat(R"({"sort":"END_TIME_DESC","limit":20,"page":%d,"flow_runs":{"state":{"type":{"any_":["FAILED","CRASHED"]}}}})",
                                 DeepPage(n / 20, 20, 50)));

  std::string out;
  for (const auto& [name, body] : q) {
    absl::StrAppend(&out, "{\"name\":\"", name, "\",\"body\":", body, "}\n");
  }
  return out;
}

}  // namespace taskdex
