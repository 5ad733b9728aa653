// engine/template_column.h
//
// A compact, lossless column of JSON texts that repeat up to a few per-row
// values (DESIGN.md "Store"): a task run's `state` object differs from the
// next one mostly by its own ids and timestamps, `labels` by the flow-run
// id. Each row's text is turned into a *template*: every exact occurrence of
// a "hole" text the row already holds in another column (its id, its
// flow_run_id, its state timestamp, ...) is replaced by a one-byte marker;
// the template is interned, and the row keeps only the template's code.
// Rendering copies the template's literal segments and asks the caller to
// write each hole from the row's columns. A hole is made only where the text
// matches byte for byte, so rendering with the same hole texts gives back the
// original bytes whatever the input (partial matches, repeats, escapes).
//
// Template encoding: bytes 0x01..kMaxTemplateHoles are hole markers; a
// literal byte below 0x20 (never in minified JSON, but allowed here) is
// written as kTemplateEscape followed by the byte.
//
// Thread safety: writer-only until Freeze(); const and shareable afterwards.

#ifndef TASKDEX_ENGINE_TEMPLATE_COLUMN_H_
#define TASKDEX_ENGINE_TEMPLATE_COLUMN_H_

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "engine/types.h"
#include "index/array_column.h"
#include "index/serial.h"

namespace taskdex {

inline constexpr int kMaxTemplateHoles = 30;
inline constexpr char kTemplateEscape = 0x1F;

// A byte range of the text that becomes hole `hole` whatever it holds
// (e.g. the `null` that a SCHEDULED state's scheduled time renders as `now`).
struct ForcedHole {
  int64_t offset = -1;  // -1: none
  uint32_t size = 0;
  uint8_t hole = 0;
};

// The template of `text`: holes[k] (k = 0..) is the row's text for hole k+1;
// an empty entry, or one holding a byte below 0x20, is never matched. Holes
// are replaced in index order (an earlier hole wins an overlap).
// REQUIRES: holes.size() <= kMaxTemplateHoles; forced.hole in 1..holes.size()
// or forced.offset == -1; forced range inside text.
std::string MakeTemplate(std::string_view text, std::span<const std::string_view> holes,
                         ForcedHole forced = {});
// Inverse of MakeTemplate, for tests and cold paths: hole k+1 renders as
// holes[k] (a forced hole too).
std::string FillTemplate(std::string_view templ, std::span<const std::string_view> holes);

class TemplateColumn {
 public:
  // One literal run followed by a hole (0: none).
  struct Segment {
    uint32_t begin;  // in literals_
    uint32_t size;
    uint8_t hole;
  };

  TemplateColumn() = default;
  TemplateColumn(TemplateColumn&&) noexcept = default;
  TemplateColumn& operator=(TemplateColumn&&) noexcept = default;

  // Sets row `row` (appending when row == size()) to MakeTemplate(text,
  // holes, forced). REQUIRES: not frozen; row <= size().
  void Set(RowId row, std::string_view text, std::span<const std::string_view> holes,
           ForcedHole forced = {});
  // Same with a ready template (e.g. from MakeTemplate on another thread);
  // taken by value so a new template moves in without a copy.
  void SetTemplate(RowId row, std::string templ);
  // SetTemplate in two steps, for a writer that interns each distinct
  // template of a batch once (StoreBuilder::AddTaskRuns): the code of
  // `templ` (adding it if new), then rows set to codes it returned.
  uint32_t InternTemplate(std::string templ) { return Intern(std::move(templ)); }
  void SetCode(RowId row, uint32_t code);
  // Drops templates no row uses, builds the segment tables, releases the
  // interning map and the template strings. Codes are renumbered (first use
  // order).
  void Freeze();

  uint32_t size() const { return static_cast<uint32_t>(codes_.size()); }
  uint32_t num_templates() const { return static_cast<uint32_t>(first_segment_.size() - 1); }
  uint32_t code(RowId row) const { return codes_[row]; }
  // Upper bound of the literal bytes of row `row` (holes not counted).
  uint32_t LiteralBytes(RowId row) const { return literal_bytes_[codes_[row]]; }

  // Writes row `row`: literal runs appended to `out`, each hole through
  // write_hole(uint8_t hole, std::string* out). REQUIRES: frozen.
  template <typename HoleWriter>
  void Render(RowId row, std::string* out, HoleWriter&& write_hole) const {
    const uint32_t c = codes_[row];
    const Segment* s = segments_.data() + first_segment_[c];
    const Segment* end = segments_.data() + first_segment_[c + 1];
    const char* lit = literals();
    for (; s != end; ++s) {
      out->append(lit + s->begin, s->size);
      if (s->hole != 0) write_hole(s->hole, out);
    }
  }
  std::span<const Segment> Segments(RowId row) const {
    const uint32_t c = codes_[row];
    return std::span<const Segment>(segments_).subspan(first_segment_[c],
                                                       first_segment_[c + 1] - first_segment_[c]);
  }
  // The same by template code (code(row)).
  std::span<const Segment> SegmentsOfCode(uint32_t c) const {
    return std::span<const Segment>(segments_).subspan(first_segment_[c],
                                                       first_segment_[c + 1] - first_segment_[c]);
  }
  uint32_t LiteralBytesOfCode(uint32_t c) const { return literal_bytes_[c]; }
  void PrefetchSegmentsOfCode(uint32_t c) const {
    __builtin_prefetch(first_segment_.data() + c);
    __builtin_prefetch(literal_bytes_.data() + c);
  }
  const char* literals() const { return literals_.view().data(); }
  // Cache hints for a reader about to render `row`: the row's code, then
  // (once that is in cache) its template's entries in the segment tables.
  void PrefetchCode(RowId row) const { __builtin_prefetch(codes_.data() + row); }
  void PrefetchSegments(RowId row) const {
    const uint32_t c = codes_[row];
    __builtin_prefetch(first_segment_.data() + c);
    __builtin_prefetch(literal_bytes_.data() + c);
  }

  size_t MemoryBytes() const;

  // The binary snapshot's form (index/serial.h) of a frozen column. Load
  // checks codes and segment ranges, so Render stays within the literals,
  // and keeps a view of the literals when the reader has a backing (a
  // mapped file, as BlobColumn does: engine/store.h).
  void Save(SerialWriter& w) const;
  void Load(SerialReader& r);

 private:
  uint32_t Intern(std::string&& templ);

  ArrayColumn<uint32_t> codes_;         // by row (a view of a mapped snapshot, or owned)
  std::vector<std::string> templates_;  // by code, until Freeze()
  absl::flat_hash_map<std::string, uint32_t> index_;  // until Freeze()
  // Frozen form.
  SharedBytes literals_;  // built, or loaded: a view of the mapping or a copy
  std::vector<Segment> segments_;
  std::vector<uint32_t> first_segment_{0};  // by code, size num_templates + 1
  std::vector<uint32_t> literal_bytes_;      // by code
};

}  // namespace taskdex

#endif  // TASKDEX_ENGINE_TEMPLATE_COLUMN_H_
