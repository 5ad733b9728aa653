// api/response_writer.cc
//
// Plain byte writing rather than a RapidJSON Writer: every number needs
// Python's (or pydantic's) text form, and opaque sub-documents are template
// columns (engine/template_column.h) spliced from their literal runs and
// holes. A row is written field by field into a fixed stack buffer (Sink)
// that is flushed into the output string in large chunks: no allocation and
// no out-of-line string call per field. Each field has one writer, shared by
// the `/paginate` shape and the full shape.

#include "api/response_writer.h"

#include <charconv>
#include <cstring>
#include <string>

#include "engine/datetime.h"
#include "engine/task_run_fields.h"
#include "engine/text_format.h"
#include "engine/uuid.h"

namespace taskdex {
namespace {

// Buffered appends to `out`. REQUIRES for Room(n): n <= kRoomMax.
class Sink {
 public:
  static constexpr size_t kRoomMax = 256;

  explicit Sink(std::string* out) : out_(out) {}
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;
  ~Sink() { Flush(); }

  // A pointer with at least n bytes of room; Advance() past what was written.
  char* Room(size_t n) {
    if (static_cast<size_t>(buf_ + sizeof(buf_) - p_) < n) Flush();
    return p_;
  }
  void Advance(char* q) { p_ = q; }
  void Put(const char* s, size_t n) {
    if (n > kDirect) {
      Flush();
      out_->append(s, n);
      return;
    }
    if (static_cast<size_t>(buf_ + sizeof(buf_) - p_) < n) Flush();
    std::memcpy(p_, s, n);
    p_ += n;
  }
  void Put(std::string_view s) { Put(s.data(), s.size()); }
  template <size_t N>
  void Lit(const char (&s)[N]) {
    Put(s, N - 1);
  }
  void Char(char c) {
    if (p_ == buf_ + sizeof(buf_)) Flush();
    *p_++ = c;
  }
  void Flush() {
    out_->append(buf_, static_cast<size_t>(p_ - buf_));
    p_ = buf_;
  }
  // The last day PutQuotedTime converted, as `"YYYY-MM-DD` (11 bytes).
  int64_t cached_day = -1;
  char cached_day_text[11];
  // Cold paths format into this string, then Put it.
  std::string& scratch() {
    scratch_.clear();
    return scratch_;
  }

 private:
  static constexpr size_t kDirect = 2048;
  char buf_[16384];
  char* p_ = buf_;
  std::string* out_;
  std::string scratch_;
};

constexpr char kDigitPairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

char* Put2(char* p, uint32_t v) {
  std::memcpy(p, kDigitPairs + 2 * v, 2);
  return p + 2;
}

// Lowercase hex of each byte value, two chars per byte.
struct HexPairs {
  char text[512];
  constexpr HexPairs() : text() {
    constexpr char kHex[] = "0123456789abcdef";
    for (int b = 0; b < 256; ++b) {
      text[2 * b] = kHex[b >> 4];
      text[2 * b + 1] = kHex[b & 0xF];
    }
  }
};
constexpr HexPairs kHexPairs;

void PutUuid(Sink& s, const Uuid& u) {
  char* p = s.Room(38);
  auto hex = [&u](char* dst, int from, int to) {
    for (int i = from; i < to; ++i) {
      std::memcpy(dst, kHexPairs.text + 2 * u.bytes[i], 2);
      dst += 2;
    }
    return dst;
  };
  p[0] = '"';
  hex(p + 1, 0, 4);
  p[9] = '-';
  hex(p + 10, 4, 6);
  p[14] = '-';
  hex(p + 15, 6, 8);
  p[19] = '-';
  hex(p + 20, 8, 10);
  p[24] = '-';
  hex(p + 25, 10, 16);
  p[37] = '"';
  s.Advance(p + 38);
}

void PutDate(char* p, int64_t days);

// A quoted instant as AppendDatetime writes it (engine/datetime.h).
void PutQuotedTime(Sink& s, Micros t) {
  constexpr int64_t kDay = int64_t{86400} * 1000000;
  // Years 1970..9999 on the fast path; anything else goes through datetime.
  if (t < 0 || t >= int64_t{253402300800} * 1000000) {
    std::string& tmp = s.scratch();
    tmp.push_back('"');
    AppendDatetime(&tmp, t);
    tmp.push_back('"');
    s.Put(tmp);
    return;
  }
  const int64_t days = t / kDay;
  const int64_t in_day = t - days * kDay;
  const uint32_t secs = static_cast<uint32_t>(in_day / 1000000);
  const uint32_t us = static_cast<uint32_t>(in_day - int64_t{secs} * 1000000);
  char* p = s.Room(32);
  if (days != s.cached_day) {
    s.cached_day = days;
    PutDate(s.cached_day_text, days);
  }
  std::memcpy(p, s.cached_day_text, 11);
  p += 11;
  *p++ = 'T';
  p = Put2(p, secs / 3600);
  *p++ = ':';
  p = Put2(p, secs / 60 % 60);
  *p++ = ':';
  p = Put2(p, secs % 60);
  if (us != 0) {
    *p++ = '.';
    p = Put2(p, us / 10000);
    p = Put2(p, us / 100 % 100);
    p = Put2(p, us % 100);
  }
  *p++ = 'Z';
  *p++ = '"';
  s.Advance(p);
}

// `"YYYY-MM-DD` of a day since 1970 (civil_from_days, H. Hinnant), for days
// in years 1970..9999.
void PutDate(char* p, int64_t days) {
  const int64_t z = days + 719468;
  const int64_t era = z / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const uint32_t d = static_cast<uint32_t>(doy - (153 * mp + 2) / 5 + 1);
  const uint32_t m = static_cast<uint32_t>(mp < 10 ? mp + 3 : mp - 9);
  const uint32_t y = static_cast<uint32_t>(yoe + era * 400 + (m <= 2));
  *p++ = '"';
  p = Put2(p, y / 100);
  p = Put2(p, y % 100);
  *p++ = '-';
  p = Put2(p, m);
  *p++ = '-';
  Put2(p, d);
}

void PutTime(Sink& s, Micros t) {
  if (t == kNullMicros) {
    s.Lit("null");
  } else {
    PutQuotedTime(s, t);
  }
}

// A JSON string literal as AppendJsonString writes it.
void PutJsonString(Sink& s, std::string_view v) {
  for (char c : v) {
    if (static_cast<unsigned char>(c) < 0x20 || c == '"' || c == '\\') {
      std::string& tmp = s.scratch();
      AppendJsonString(&tmp, v);
      s.Put(tmp);
      return;
    }
  }
  s.Char('"');
  s.Put(v);
  s.Char('"');
}

void PutInt64(Sink& s, int64_t v) {
  char* p = s.Room(24);
  s.Advance(std::to_chars(p, p + 24, v).ptr);
}

void PutUint64(Sink& s, uint64_t v) {
  char* p = s.Room(24);
  s.Advance(std::to_chars(p, p + 24, v).ptr);
}

// A duration in microseconds as seconds, in Python's repr (pydantic=false)
// or pydantic's JSON float form. For 100 <= |us| < 1e15 both are the plain
// decimal with trailing zeros trimmed: a decimal of at most 15 significant
// digits is the shortest text that round-trips to its double, and both
// writers use fixed notation in that range. Other values take the general
// formatter.
void PutDuration(Sink& s, int64_t us, bool pydantic) {
  if (us == 0) {
    s.Lit("0.0");
    return;
  }
  const uint64_t mag = us < 0 ? 0 - static_cast<uint64_t>(us) : static_cast<uint64_t>(us);
  if (mag < 100 || mag >= uint64_t{1000000000000000}) {
    std::string& tmp = s.scratch();
    if (pydantic) {
      AppendPydanticDurationSeconds(&tmp, us);
    } else {
      AppendDurationSeconds(&tmp, us);
    }
    s.Put(tmp);
    return;
  }
  char* p = s.Room(32);
  if (us < 0) *p++ = '-';
  p = std::to_chars(p, p + 20, mag / 1000000).ptr;
  *p++ = '.';
  uint32_t frac = static_cast<uint32_t>(mag % 1000000);
  if (frac == 0) {
    *p++ = '0';
  } else {
    char digits[6];
    Put2(digits, frac / 10000);
    Put2(digits + 2, frac / 100 % 100);
    Put2(digits + 4, frac % 100);
    int n = 6;
    while (digits[n - 1] == '0') --n;
    std::memcpy(p, digits, static_cast<size_t>(n));
    p += n;
  }
  s.Advance(p);
}

// The task-run table fields, each written once for both shapes.
using Field = TaskRunField;

// `"key":` of each field, by Field value.
const std::string* QuotedKeys() {
  static const std::string* keys = [] {
    auto* k = new std::string[kTaskRunFieldCount];
    for (size_t i = 0; i < kTaskRunFieldCount; ++i) {
      k[i] = "\"" + std::string(kTaskRunFieldNames[i]) + "\":";
    }
    return k;
  }();
  return keys;
}

// `TaskRunResponse` (paginate.md 8.2) and full `TaskRun` (9.1) key orders.
constexpr Field kPaginateFields[] = {
    Field::kId,           Field::kCreated,         Field::kUpdated,
    Field::kName,         Field::kFlowRunId,       Field::kTaskKey,
    Field::kStateId,      Field::kState,           Field::kTaskVersion,
    Field::kParameters,   Field::kTaskInputs,      Field::kContext,
    Field::kEmpiricalPolicy, Field::kTags,         Field::kStartTime,
    Field::kEndTime,      Field::kTotalRunTime,    Field::kEstimatedRunTime,
    Field::kEstimatedStartTimeDelta,
};
constexpr Field kFullFields[] = {
    Field::kId,
    Field::kCreated,
    Field::kUpdated,
    Field::kName,
    Field::kFlowRunId,
    Field::kTaskKey,
    Field::kDynamicKey,
    Field::kCacheKey,
    Field::kCacheExpiration,
    Field::kTaskVersion,
    Field::kEmpiricalPolicy,
    Field::kTags,
    Field::kLabels,
    Field::kStateId,
    Field::kTaskInputs,
    Field::kStateType,
    Field::kStateName,
    Field::kRunCount,
    Field::kFlowRunRunCount,
    Field::kExpectedStartTime,
    Field::kNextScheduledStartTime,
    Field::kStartTime,
    Field::kEndTime,
    Field::kTotalRunTime,
    Field::kEstimatedRunTime,
    Field::kEstimatedStartTimeDelta,
    Field::kState,
};

// EstimatedRunTimeMicros / EstimatedStartTimeDeltaMicros (response_writer.h)
// on a row's TaskRunHot.
int64_t EstimatedRunTime(const TaskRunHot& h, Micros now) {
  if (h.state_type == static_cast<uint8_t>(StateType::kRunning) &&
      h.state_timestamp != kNullMicros) {
    return h.total_run_time_us + (now - h.state_timestamp);
  }
  return h.total_run_time_us;
}

int64_t EstimatedStartTimeDelta(const TaskRunHot& h, Micros now) {
  const Micros start = h.start_time;
  const Micros expected = h.expected_start_time;
  if (start != kNullMicros && expected != kNullMicros && start > expected) {
    return start - expected;
  }
  if (start == kNullMicros && expected != kNullMicros && expected < now) {
    const uint8_t type = h.state_type;
    const bool terminal = type != kNullStateType && IsTerminal(static_cast<StateType>(type));
    if (!terminal) return now - expected;
  }
  return 0;
}

class RowWriter {
 public:
  RowWriter(const Store& store, Micros now, bool pydantic, Sink& sink)
      : store_(store), t_(store.task_runs), now_(now), pydantic_(pydantic), s_(sink) {}

  template <size_t N>
  void Row(RowId row, const Field (&fields)[N]) {
    h_ = &t_.hot[row];
    s_.Char('{');
    for (size_t i = 0; i < N; ++i) {
      if (i > 0) s_.Char(',');
      s_.Put(QuotedKeys()[static_cast<int>(fields[i])]);
      Value(row, fields[i]);
    }
  }

 private:
  void Text(RowId row, const TemplateColumn& col) { TextOfCode(row, col, col.code(row)); }
  void TextOfCode(RowId row, const TemplateColumn& col, uint32_t code) {
    const char* lit = col.literals();
    for (const TemplateColumn::Segment& seg : col.SegmentsOfCode(code)) {
      s_.Put(lit + seg.begin, seg.size);
      if (seg.hole != 0) Hole(row, seg.hole);
    }
  }

  // The text AppendTaskRunHole (engine/store.h) writes for `hole`.
  void Hole(RowId row, uint8_t hole) {
    switch (static_cast<TaskRunHole>(hole)) {
      case TaskRunHole::kId:
        return PutUuid(s_, h_->id);
      case TaskRunHole::kFlowRunId:
        if (const Uuid* u = FlowRunId(row)) PutUuid(s_, *u);
        return;
      case TaskRunHole::kStateId:
        if (h_->flags & TaskRunHot::kHasStateId) PutUuid(s_, h_->state_id);
        return;
      case TaskRunHole::kStateTimestamp:
        return HoleTime(h_->state_timestamp);
      case TaskRunHole::kStateType:
        if (h_->state_type != kNullStateType) PutStateType();
        return;
      case TaskRunHole::kStateName:
        if (h_->state_name != kNullCode) {
          PutJsonString(s_, store_.state_names.Get(h_->state_name));
        }
        return;
      case TaskRunHole::kScheduledNow:
        return PutQuotedTime(s_, now_);
      case TaskRunHole::kExpectedStartTime:
        return HoleTime(h_->expected_start_time);
      case TaskRunHole::kNextScheduledStartTime:
        return HoleTime(t_.next_scheduled_start_time[row]);
      case TaskRunHole::kStartTime:
        return HoleTime(h_->start_time);
      case TaskRunHole::kEndTime:
        return HoleTime(h_->end_time);
      case TaskRunHole::kCreated:
        return HoleTime(h_->created);
      case TaskRunHole::kUpdated:
        return HoleTime(h_->updated);
      case TaskRunHole::kCacheExpiration:
        return HoleTime(t_.cache_expiration[row]);
      case TaskRunHole::kCacheKey:
        if (!t_.cache_key.IsNull(row)) PutJsonString(s_, t_.cache_key.Get(row));
        return;
    }
  }
  void HoleTime(Micros t) {
    if (t != kNullMicros) PutQuotedTime(s_, t);
  }
  void PutStateType() {
    s_.Char('"');
    s_.Put(StateTypeName(static_cast<taskdex::StateType>(h_->state_type)));
    s_.Char('"');
  }
  // The row's flow_run_id as stored, or nullptr for null: from the joined
  // flow run's id (a small, cache-resident column) or, for a null or orphan
  // reference, from the task-run column.
  const Uuid* FlowRunId(RowId row) const {
    if (h_->flow_run_row != kNoRow) return &store_.flow_runs.id[h_->flow_run_row];
    const std::optional<Uuid>& u = t_.flow_run_id[row];
    return u ? &*u : nullptr;
  }

  void Value(RowId row, Field f) {
    switch (f) {
      case Field::kId:
        return PutUuid(s_, h_->id);
      case Field::kCreated:
        return PutTime(s_, h_->created);
      case Field::kUpdated:
        return PutTime(s_, h_->updated);
      case Field::kName:
        return PutJsonString(s_, store_.task_run_names.Get(h_->name));
      case Field::kFlowRunId:
        if (const Uuid* u = FlowRunId(row)) return PutUuid(s_, *u);
        return s_.Lit("null");
      case Field::kTaskKey:
        return PutJsonString(s_, store_.task_keys.Get(h_->task_key));
      case Field::kDynamicKey:
        return PutJsonString(s_, t_.dynamic_key.Get(row));
      case Field::kCacheKey:
        if (t_.cache_key.IsNull(row)) return s_.Lit("null");
        return PutJsonString(s_, t_.cache_key.Get(row));
      case Field::kCacheExpiration:
        return PutTime(s_, t_.cache_expiration[row]);
      case Field::kTaskVersion:
        return TextOfCode(row, t_.task_version, h_->task_version_code);
      case Field::kEmpiricalPolicy:
        return TextOfCode(row, t_.empirical_policy, h_->empirical_policy_code);
      case Field::kTags: {
        s_.Char('[');
        bool first = true;
        for (uint32_t code : t_.tags.Of(row)) {
          if (!first) s_.Char(',');
          first = false;
          PutJsonString(s_, store_.tags.Get(code));
        }
        s_.Char(']');
        return;
      }
      case Field::kLabels:
        return Text(row, t_.labels);
      case Field::kStateId:
        if (h_->flags & TaskRunHot::kHasStateId) return PutUuid(s_, h_->state_id);
        return s_.Lit("null");
      case Field::kTaskInputs:
        return s_.Put(t_.task_inputs_json.Get(row));
      case Field::kStateType:
        if (h_->state_type == kNullStateType) return s_.Lit("null");
        return PutStateType();
      case Field::kStateName:
        if (h_->state_name == kNullCode) return s_.Lit("null");
        return PutJsonString(s_, store_.state_names.Get(h_->state_name));
      case Field::kRunCount:
        return PutInt64(s_, t_.run_count[row]);
      case Field::kFlowRunRunCount:
        return PutInt64(s_, t_.flow_run_run_count[row]);
      case Field::kExpectedStartTime:
        return PutTime(s_, h_->expected_start_time);
      case Field::kNextScheduledStartTime:
        return PutTime(s_, t_.next_scheduled_start_time[row]);
      case Field::kStartTime:
        return PutTime(s_, h_->start_time);
      case Field::kEndTime:
        return PutTime(s_, h_->end_time);
      case Field::kTotalRunTime:
        return PutDuration(s_, h_->total_run_time_us, pydantic_);
      case Field::kEstimatedRunTime:
        return PutDuration(s_, EstimatedRunTime(*h_, now_), pydantic_);
      case Field::kEstimatedStartTimeDelta:
        return PutDuration(s_, EstimatedStartTimeDelta(*h_, now_), pydantic_);
      case Field::kState:
        return TextOfCode(row, t_.state, h_->state_code);
      case Field::kParameters:
        return s_.Put(t_.parameters_json.Get(row));
      case Field::kContext:
        return s_.Put(t_.context_json.Get(row));
    }
  }

  const Store& store_;
  const TaskRunTable& t_;
  const Micros now_;
  const bool pydantic_;
  Sink& s_;
  const TaskRunHot* h_ = nullptr;  // of the row being written
};

// --- Cache hints --------------------------------------------------------------
//
// A page's rows are typically scattered over a table far larger than the
// caches, so nearly every column entry a row reads, and the blob bytes and
// dictionary strings those point at, is a cache and TLB miss. The scalars
// come from the row's TaskRunHot block (engine/store.h: two lines of one
// page); the rest is still spread over ~8 columns. Written one field after
// another, the misses are paid one at a time. The page writers therefore
// walk a few rows ahead of the row being written and issue prefetch hints in
// three stages, each a step further along the chains of loads, so that by
// the time a row is written its data is in cache:
//   stage 1: the row's TaskRunHot block and its entry in every other column
//            the shape reads;
//   stage 2: (those entries now cached) the blob bytes, dictionary entries,
//            joined flow run's id, tag codes and template tables they point at;
//   stage 3: (those cached) the dictionary strings' bytes.
// Hints never change what is written: the writers read the same values as
// without them, whatever the row order.
class RowPrefetcher {
 public:
  // Rows between stages; the row written is 3 * kLag rows behind stage 1.
  static constexpr size_t kLag = 2;
  // Bytes of each blob hinted (a longer one is streamed by the hardware).
  static constexpr size_t kBlobBytes = 512;

  RowPrefetcher(const Store& store, bool full)
      : t_(store.task_runs),
        flow_run_ids_(store.flow_runs.id.data()),
        names_(store.task_run_names.views()),
        keys_(store.task_keys.views()),
        full_(full) {}

  void Stage1(RowId r) const {
    const char* hot = reinterpret_cast<const char*>(t_.hot.data() + r);
    Hint(hot);
    Hint(hot + 64);
    Hint(t_.tags.offsets.data() + r);
    Hint(t_.tags.offsets.data() + r + 1);
    t_.parameters_json.PrefetchOffsets(r);
    t_.task_inputs_json.PrefetchOffsets(r);
    t_.context_json.PrefetchOffsets(r);
    if (full_) {
      Hint(t_.flow_run_id.data() + r);
      Hint(t_.cache_expiration.data() + r);
      Hint(t_.next_scheduled_start_time.data() + r);
      Hint(t_.run_count.data() + r);
      Hint(t_.flow_run_run_count.data() + r);
      t_.labels.PrefetchCode(r);
      t_.dynamic_key.PrefetchOffsets(r);
      t_.cache_key.PrefetchOffsets(r);
      t_.extras_json.PrefetchOffsets(r);
    }
  }

  void Stage2(RowId r) const {
    const TaskRunHot& h = t_.hot[r];
    Hint(names_ + h.name);
    Hint(keys_ + h.task_key);
    if (h.flow_run_row != kNoRow) Hint(flow_run_ids_ + h.flow_run_row);
    const uint32_t tags_begin = t_.tags.offsets[r];
    if (tags_begin != t_.tags.offsets[r + 1]) Hint(t_.tags.codes.data() + tags_begin);
    t_.state.PrefetchSegmentsOfCode(h.state_code);
    t_.task_version.PrefetchSegmentsOfCode(h.task_version_code);
    t_.empirical_policy.PrefetchSegmentsOfCode(h.empirical_policy_code);
    t_.parameters_json.PrefetchBytes(r, kBlobBytes);
    t_.task_inputs_json.PrefetchBytes(r, kBlobBytes);
    t_.context_json.PrefetchBytes(r, kBlobBytes);
    if (full_) {
      t_.labels.PrefetchSegments(r);
      t_.dynamic_key.PrefetchBytes(r, kBlobBytes);
      t_.cache_key.PrefetchBytes(r, kBlobBytes);
      t_.extras_json.PrefetchBytes(r, kBlobBytes);
    }
  }

  void Stage3(RowId r) const {
    const TaskRunHot& h = t_.hot[r];
    Hint(names_[h.name].data());
    Hint(keys_[h.task_key].data());
  }

  // Calls visit(i) for i = 0 .. rows.size()-1 in order, hinting rows ahead.
  template <typename Visit>
  void ForEach(std::span<const RowId> rows, Visit&& visit) const {
    const size_t n = rows.size();
    for (size_t j = 0; j < n + 3 * kLag; ++j) {
      if (j < n) Stage1(rows[j]);
      if (j >= kLag && j - kLag < n) Stage2(rows[j - kLag]);
      if (j >= 2 * kLag && j - 2 * kLag < n) Stage3(rows[j - 2 * kLag]);
      if (j >= 3 * kLag) visit(j - 3 * kLag);
    }
  }

 private:
  static void Hint(const void* p) { __builtin_prefetch(p); }

  const TaskRunTable& t_;
  const Uuid* flow_run_ids_;
  const std::string_view* names_;
  const std::string_view* keys_;
  const bool full_;
};

void WritePaginateRow(const Store& store, RowId row, Micros now, Sink& sink) {
  RowWriter(store, now, false, sink).Row(row, kPaginateFields);
  sink.Char('}');
}

void WriteFullRow(const Store& store, RowId row, Micros now, Sink& sink) {
  RowWriter(store, now, true, sink).Row(row, kFullFields);
  sink.Put(store.task_runs.extras_json.Get(row));
  sink.Char('}');
}

}  // namespace

int64_t EstimatedRunTimeMicros(const Store& store, RowId row, Micros now) {
  const TaskRunTable& t = store.task_runs;
  int64_t total = t.total_run_time_us[row];
  if (t.state_type[row] == static_cast<uint8_t>(StateType::kRunning) &&
      t.state_timestamp[row] != kNullMicros) {
    return total + (now - t.state_timestamp[row]);
  }
  return total;
}

int64_t EstimatedStartTimeDeltaMicros(const Store& store, RowId row, Micros now) {
  const TaskRunTable& t = store.task_runs;
  Micros start = t.start_time[row];
  Micros expected = t.expected_start_time[row];
  if (start != kNullMicros && expected != kNullMicros && start > expected) {
    return start - expected;
  }
  if (start == kNullMicros && expected != kNullMicros && expected < now) {
    uint8_t type = t.state_type[row];
    bool terminal = type != kNullStateType && IsTerminal(static_cast<StateType>(type));
    if (!terminal) return now - expected;
  }
  return 0;
}

void AppendTaskRunResponse(const Store& store, RowId row, Micros now, std::string* out) {
  Sink sink(out);
  WritePaginateRow(store, row, now, sink);
}

void AppendTaskRunFull(const Store& store, RowId row, Micros now, std::string* out) {
  Sink sink(out);
  WriteFullRow(store, row, now, sink);
}

void AppendTaskRunFullArray(const Store& store, std::span<const RowId> rows, Micros now,
                            std::string* out) {
  Sink sink(out);
  sink.Char('[');
  RowPrefetcher(store, /*full=*/true).ForEach(rows, [&](size_t i) {
    if (i > 0) sink.Char(',');
    WriteFullRow(store, rows[i], now, sink);
  });
  sink.Char(']');
}

uint64_t PageCount(uint64_t count, int64_t limit) {
  if (limit <= 0) return 0;
  uint64_t l = static_cast<uint64_t>(limit);
  return count / l + (count % l != 0 ? 1 : 0);
}

void AppendPaginateResponse(const Store& store, std::span<const RowId> rows, uint64_t count,
                            int64_t limit, std::string_view page_text, Micros now,
                            std::string* out) {
  // One reservation for the whole page (a bound of the literal and blob
  // bytes plus the formatted scalars), so the buffer is not regrown. This
  // first walk is the one that takes the cache misses (RowPrefetcher); the
  // writing walk below finds the rows in cache.
  const TaskRunTable& t = store.task_runs;
  const RowPrefetcher prefetcher(store, /*full=*/false);
  size_t need = 128;
  prefetcher.ForEach(rows, [&](size_t i) {
    const RowId row = rows[i];
    const TaskRunHot& h = t.hot[row];
    need += 1024 + 4 * 38 + t.state.LiteralBytesOfCode(h.state_code) +
            t.parameters_json.Get(row).size() + t.task_inputs_json.Get(row).size() +
            t.context_json.Get(row).size() +
            t.empirical_policy.LiteralBytesOfCode(h.empirical_policy_code) +
            t.task_version.LiteralBytesOfCode(h.task_version_code) +
            store.task_run_names.Get(h.name).size() + store.task_keys.Get(h.task_key).size() +
            16 * t.tags.Of(row).size();
  });
  out->reserve(out->size() + need);
  Sink sink(out);
  sink.Lit("{\"results\":[");
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i > 0) sink.Char(',');
    WritePaginateRow(store, rows[i], now, sink);
  }
  sink.Lit("],\"count\":");
  PutUint64(sink, count);
  sink.Lit(",\"limit\":");
  PutInt64(sink, limit);
  sink.Lit(",\"pages\":");
  PutUint64(sink, PageCount(count, limit));
  sink.Lit(",\"page\":");
  sink.Put(page_text);
  sink.Char('}');
}

}  // namespace taskdex
