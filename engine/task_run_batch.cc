// engine/task_run_batch.cc

#include "engine/task_run_batch.h"

#include <utility>

#include "absl/strings/string_view.h"

namespace taskdex {

uint32_t LocalStrings::Intern(std::string_view s) {
  auto it = codes_.find(absl::string_view(s.data(), s.size()));
  if (it != codes_.end()) return it->second;
  const uint32_t code = size();
  codes_.emplace(std::string(s), code);
  strings_.emplace_back(s);
  return code;
}

uint32_t LocalStrings::Intern(std::string&& s) {
  auto it = codes_.find(s);
  if (it != codes_.end()) return it->second;
  const uint32_t code = size();
  codes_.emplace(s, code);
  strings_.push_back(std::move(s));
  return code;
}

std::vector<uint32_t> LocalStrings::InternAll(Dictionary& dict) const {
  std::vector<uint32_t> codes;
  codes.reserve(strings_.size());
  for (const std::string& s : strings_) codes.push_back(dict.Intern(s));
  return codes;
}

std::vector<uint32_t> LocalStrings::InternAll(TemplateColumn& col) {
  std::vector<uint32_t> codes;
  codes.reserve(strings_.size());
  for (std::string& s : strings_) codes.push_back(col.InternTemplate(std::move(s)));
  return codes;
}

void TaskRunBatch::Reserve(size_t n) {
  records.reserve(n);
  task_key.reserve(n);
  state_name.reserve(n);
  template_codes.reserve(n);
  tag_ends.reserve(n);
}

void TaskRunBatch::Add(PreparedTaskRun&& p) {
  TaskRunRecord& r = p.record;
  // What is not moved into the dictionaries is freed here, on the thread
  // that allocated it, rather than on the builder's (a free from another
  // thread takes the allocating arena's lock in glibc).
  task_key.push_back(task_keys.Intern(std::move(r.task_key)));
  std::string().swap(r.task_key);
  state_name.push_back(r.state_name ? state_names.Intern(std::move(*r.state_name)) : kNullCode);
  r.state_name.reset();
  for (std::string& t : r.tags) tag_codes.push_back(tags.Intern(std::move(t)));
  tag_ends.push_back(static_cast<uint32_t>(tag_codes.size()));
  std::vector<std::string>().swap(r.tags);
  std::string* texts[kBatchTemplates] = {&p.task_version_template, &p.empirical_policy_template,
                                         &p.labels_template, &p.state_template};
  std::array<uint32_t, kBatchTemplates> codes;
  for (int k = 0; k < kBatchTemplates; ++k) {
    codes[k] = templates[k].Intern(std::move(*texts[k]));
    std::string().swap(*texts[k]);
  }
  template_codes.push_back(codes);
  records.push_back(std::move(p));
}

}  // namespace taskdex
