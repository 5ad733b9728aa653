#include "engine/history.h"

#include <algorithm>
#include <map>
#include <string_view>
#include <tuple>

namespace taskdex {

std::vector<HistoryInterval> MakeHistoryIntervals(Micros start, Micros end, int64_t interval_us) {
  std::vector<HistoryInterval> out;
  if (interval_us < 1) return out;
  __int128 t = start;
  for (int k = 0; k < kMaxHistoryIntervals && t < end; ++k) {
    __int128 next = t + interval_us;
    HistoryInterval iv;
    iv.start = static_cast<Micros>(t);
    iv.end = next > INT64_MAX ? INT64_MAX : static_cast<Micros>(next);
    out.push_back(std::move(iv));
    t = next;
  }
  return out;
}

std::vector<HistoryInterval> TaskRunHistory(std::span<const HistorySource> sources, Micros start,
                                            Micros end, int64_t interval_us) {
  std::vector<HistoryInterval> intervals = MakeHistoryIntervals(start, end, interval_us);
  if (intervals.empty()) return intervals;
  // (interval, state type name, has a state name, state name) -> state. A
  // NULL name and "" are two groups, as in SQL's GROUP BY; NULL sorts first.
  using Key = std::tuple<size_t, std::string_view, bool, std::string_view>;
  std::map<Key, HistoryState> groups;
  const __int128 limit = static_cast<__int128>(intervals.size());
  for (const HistorySource& source : sources) {
    const Store& store = *source.store;
    const TaskRunTable& t = store.task_runs;
    for (RowId row : *source.rows) {
      const Micros when = t.expected_start_time[row];
      const uint8_t type = t.state_type[row];
      if (when == kNullMicros || type == kNullStateType || when < start) continue;
      const __int128 k = (static_cast<__int128>(when) - start) / interval_us;
      if (k >= limit) continue;
      const uint32_t name = t.state_name[row];
      const StateType st = static_cast<StateType>(type);
      const std::optional<std::string_view> name_text =
          name == kNullCode ? std::nullopt : std::optional(store.state_names.Get(name));
      Key key{static_cast<size_t>(k), StateTypeName(st), name_text.has_value(),
              name_text.value_or(std::string_view())};
      HistoryState& g = groups[key];
      g.state_type = st;
      g.state_name = name_text;
      ++g.count_runs;
      g.sum_estimated_run_time_us += std::max<int64_t>(0, source.estimated_run_time(row));
      g.sum_estimated_lateness_us += std::max<int64_t>(0, source.estimated_lateness(row));
    }
  }
  for (const auto& [key, g] : groups) intervals[std::get<0>(key)].states.push_back(g);
  return intervals;
}

}  // namespace taskdex
