// tests/fuzz/paginate_request_fuzzer.cc
//
// libFuzzer target for the request path: any bytes must give either a
// PaginateRequest within its documented ranges or an ApiResponse whose body
// is valid JSON with status 400 or 422; no crash, leak or hang. Also checks
// that the echo writer is a fixed point: echoing a parsed body and parsing
// the echo gives the same echo. Normal builds link replay_main.cc instead of
// libFuzzer so the corpus runs under ctest.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "api/json_value.h"
#include "api/paginate_request.h"

namespace {

// Bodies past this size teach the fuzzer nothing new and only slow it down.
constexpr size_t kMaxInputSize = 64 * 1024;

void Check(bool ok) {
  if (!ok) std::abort();
}

void CheckResponse(const taskdex::ApiResponse& r) {
  Check(r.status == 400 || r.status == 422);
  taskdex::JsonParseResult p = taskdex::ParseJsonBody(r.body);
  Check(p.status == taskdex::JsonParseResult::Status::kOk && p.value.is_object());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > kMaxInputSize) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data), size);

  auto result = taskdex::ParsePaginateBody(body);
  if (const auto* r = std::get_if<taskdex::ApiResponse>(&result)) {
    CheckResponse(*r);
  } else {
    const auto& req = std::get<taskdex::PaginateRequest>(result);
    Check(req.query.limit >= 0 && req.query.limit <= taskdex::kDefaultLimit);
    Check(!req.page_text.empty() && req.page_text[0] >= '1' && req.page_text[0] <= '9');
    Check(req.page_text.find_first_not_of("0123456789") == std::string::npos);
  }
  auto count = taskdex::ParseRequestBody(body, taskdex::BodyKind::kCount);
  if (const auto* r = std::get_if<taskdex::ApiResponse>(&count)) CheckResponse(*r);

  if (size > 0) {
    taskdex::JsonParseResult p = taskdex::ParseJsonBody(body);
    if (p.status == taskdex::JsonParseResult::Status::kOk) {
      std::string echo;
      taskdex::AppendJsonValue(&echo, p.value);
      taskdex::JsonParseResult again = taskdex::ParseJsonBody(echo);
      Check(again.status == taskdex::JsonParseResult::Status::kOk);
      std::string echo2;
      taskdex::AppendJsonValue(&echo2, again.value);
      Check(echo == echo2);
    }
  }
  return 0;
}
