// bench/name_model.cc
//
// Task names are verb_noun[_qualifier] combinations drawn without repetition
// (a seeded Fisher-Yates over the combination space, numbered "_2", "_3", ...
// past it). Flow-run words are built from syllables and kept distinct with a
// set; the real words come first.

#include "bench/name_model.h"

#include <algorithm>
#include <iterator>
#include <numeric>
#include <set>

#include "absl/strings/str_cat.h"

namespace taskdex {
namespace {

uint64_t Mix(uint64_t* x) {  // splitmix64
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t Below(uint64_t* x, uint64_t n) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(Mix(x)) * n) >> 64);
}

const char* const kVerbs[] = {
    "extract", "load",     "transform", "fetch",   "upload",   "validate", "score",
    "train",   "render",   "publish",   "notify",  "sync",     "clean",    "copy",
    "parse",   "aggregate", "index",    "compact", "resize",   "send",     "query",
    "check",   "merge",    "split",     "dedupe",  "enrich",   "archive",  "export",
    "build",   "compute",  "download",  "refresh", "backfill", "predict",  "embed",
    "snapshot", "reconcile", "normalize", "geocode", "classify"};
const char* const kNouns[] = {
    "orders",   "customers", "page",     "rows",    "events",  "features", "model",
    "report",   "chart",     "email",    "contacts", "partition", "object", "manifest",
    "metrics",  "invoices",  "users",    "images",  "logs",    "files",    "batch",
    "table",    "records",   "snapshot", "payments", "leads",  "accounts", "sessions",
    "products", "prices",    "tickets",  "shipments", "clicks", "embeddings", "documents",
    "schema",   "inventory", "forecast", "alerts",  "vendors"};
const char* const kQualifiers[] = {"",     "_v2",   "_daily", "_raw",  "_batch",
                                   "_eu",  "_us",   "_incremental", "_full", "_async"};

const char* const kParams[] = {"customer", "region",  "table", "shard", "partition",
                               "account",  "store",   "tenant", "file", "batch",
                               "chunk",    "page",    "user",   "order", "symbol"};

const char* const kRealAdjectives[] = {
    "amber", "bold",  "brave", "calm",   "clever", "cosmic", "crimson", "daring", "eager",
    "fancy", "fuzzy", "gentle", "golden", "happy", "hidden", "icy",    "jolly",  "lively",
    "lucky", "mellow", "nimble", "proud", "quick", "quiet",  "rustic", "shiny",  "silent",
    "smart", "spry",  "swift", "tidy",   "vivid", "wise",   "zealous"};
const char* const kRealNouns[] = {
    "otter", "llama", "fox",    "wolf",  "heron", "badger", "lynx",   "marmot", "newt",
    "ocelot", "panda", "quail", "raven", "seal",  "tapir",  "urchin", "vole",   "walrus",
    "yak",   "zebra", "beetle", "civet", "dingo", "egret",  "ferret", "gecko",  "hyena",
    "ibis",  "jackal", "koala"};

const char* const kOnsets[] = {"b",  "c",  "d",  "f",  "g",  "h",  "j",  "k",  "l",
                               "m",  "n",  "p",  "r",  "s",  "t",  "v",  "w",  "z",
                               "br", "cr", "dr", "fl", "gr", "pl", "st", "tr", "sh",
                               "ch", "th", "sk"};
const char* const kVowels[] = {"a", "e", "i", "o", "u", "a", "e", "o", "ai", "ea", "oo", "ie"};
const char* const kCodas[] = {"", "", "n", "r", "l", "s", "t", "m", "x", "k", "nd", "rt"};
const char* const kAdjectiveEnds[] = {"y",   "ous", "ic",  "al",  "ive", "ful",
                                      "ish", "en",  "ant", "ent", "ing", "id"};
const char* const kNounEnds[] = {"", "o", "a", "er", "on", "et", "in", "ard", "ix", "us"};

template <size_t N>
const char* Pick(uint64_t* x, const char* const (&list)[N]) {
  return list[Below(x, N)];
}

std::vector<std::string> Words(uint64_t* x, size_t n, std::span<const char* const> real,
                               std::span<const char* const> ends) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const char* w : real) {
    if (out.size() >= n) break;
    if (seen.insert(w).second) out.push_back(w);
  }
  // 30 onsets x 12 vowels x 12 codas x 10-12 endings, two shapes: ample room.
  for (int tries = 0; out.size() < n && tries < 1000000; ++tries) {
    std::string w = std::string(Pick(x, kOnsets)) + Pick(x, kVowels);
    if (Below(x, 2) == 0) w += std::string(Pick(x, kOnsets)) + Pick(x, kVowels);
    w += Pick(x, kCodas);
    w += ends[Below(x, ends.size())];
    if (w.size() >= 3 && seen.insert(w).second) out.push_back(std::move(w));
  }
  for (size_t k = 2; out.size() < n; ++k) {  // only for absurd sizes
    out.push_back(out[out.size() % std::size(kRealNouns)] + std::to_string(k));
  }
  return out;
}

}  // namespace

std::vector<std::string> TaskNameVocabulary(uint64_t seed, size_t n) {
  constexpr size_t kCombos = std::size(kVerbs) * std::size(kNouns) * std::size(kQualifiers);
  uint64_t x = seed ^ 0x7a5c4a3e11d0b1e5ULL;
  // The first combinations without a qualifier are the likeliest: a seeded
  // shuffle of the plain ones, then of the rest.
  constexpr size_t kPlain = std::size(kVerbs) * std::size(kNouns);
  std::vector<uint32_t> order(kCombos);
  std::iota(order.begin(), order.end(), 0u);
  for (size_t i = kPlain; i-- > 1;) std::swap(order[i], order[Below(&x, i + 1)]);
  for (size_t i = kCombos; i-- > kPlain + 1;) {
    std::swap(order[i], order[kPlain + Below(&x, i + 1 - kPlain)]);
  }
  std::vector<std::string> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    uint32_t c = order[i % kCombos];
    size_t v = c % std::size(kVerbs), rest = c / std::size(kVerbs);
    size_t nn = rest % std::size(kNouns), q = (rest / std::size(kNouns)) % std::size(kQualifiers);
    std::string name = absl::StrCat(kVerbs[v], "_", kNouns[nn], kQualifiers[q]);
    if (i >= kCombos) absl::StrAppend(&name, "_", i / kCombos + 1);
    if (Below(&x, 100) < 15) name[0] = static_cast<char>(name[0] - 'a' + 'A');
    out.push_back(std::move(name));
  }
  return out;
}

TaskNameSpec DrawTemplate(std::string name, bool mapped, uint64_t random) {
  TaskNameSpec s;
  s.name = std::move(name);
  uint64_t x = random;
  uint64_t u = Below(&x, 100);
  if (mapped) {
    s.tmpl = u < 42 ? NameTemplate::kDateParam : u < 70 ? NameTemplate::kParam
                                                        : NameTemplate::kSuffix;
  } else {
    s.tmpl = u < 7 ? NameTemplate::kDate : u < 11 ? NameTemplate::kDateParam
                                         : u < 15 ? NameTemplate::kParam
                                                  : NameTemplate::kSuffix;
  }
  s.param = static_cast<uint8_t>(Below(&x, std::size(kParams)));
  // A value under a date repeats less than one without: 10^3..10^5 values
  // with a date, 10^4..10^6 without.
  static constexpr uint32_t kValues[] = {1000, 10000, 100000};
  s.values = kValues[Below(&x, std::size(kValues))];
  if (s.tmpl == NameTemplate::kParam) s.values *= 10;
  return s;
}

std::span<const char* const> TemplateParams() { return kParams; }

std::vector<std::string> FlowRunAdjectives(uint64_t seed, size_t n) {
  uint64_t x = seed ^ 0x3d1f0a6e2b4c5d70ULL;
  return Words(&x, n, kRealAdjectives, kAdjectiveEnds);
}

std::vector<std::string> FlowRunNouns(uint64_t seed, size_t n) {
  uint64_t x = seed ^ 0x51c0ffee0ddba11ULL;
  return Words(&x, n, kRealNouns, kNounEnds);
}

}  // namespace taskdex
