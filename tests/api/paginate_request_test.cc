#include "api/paginate_request.h"

#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "api/json_value.h"
#include "engine/uuid.h"
#include "gtest/gtest.h"

namespace taskdex {
namespace {

std::string Dump(const JsonValue& v) {
  std::string out;
  AppendJsonValue(&out, v);
  return out;
}

PaginateRequest Ok(std::string_view body, const RequestOptions& options = {}) {
  auto r = ParsePaginateBody(body, options);
  if (auto* resp = std::get_if<ApiResponse>(&r)) {
    ADD_FAILURE() << body << " -> " << resp->status << " " << resp->body;
    return PaginateRequest{};
  }
  return std::get<PaginateRequest>(r);
}

ApiResponse Fail(std::string_view body, BodyKind kind = BodyKind::kPaginate) {
  auto r = ParseRequestBody(body, kind);
  if (!std::holds_alternative<ApiResponse>(r)) {
    ADD_FAILURE() << body << " unexpectedly valid";
    return ApiResponse{};
  }
  return std::get<ApiResponse>(r);
}

// One entry of exception_detail, with loc, input and ctx as compact JSON.
struct Err {
  std::string type;
  std::string loc;
  std::string msg;
  std::string input;
  std::string ctx;  // "" when absent
  std::string keys;  // the entry's keys in order, joined with ','
};

// Parses a 422 envelope; checks its shape on the way.
std::vector<Err> Errors(const ApiResponse& r, std::string* request_body = nullptr) {
  EXPECT_EQ(r.status, 422) << r.body;
  JsonParseResult p = ParseJsonBody(r.body);
  EXPECT_EQ(p.status, JsonParseResult::Status::kOk) << r.body;
  std::vector<Err> out;
  if (p.status != JsonParseResult::Status::kOk || !p.value.is_object()) return out;
  const JsonValue& root = p.value;
  EXPECT_EQ(root.members.size(), 3u) << r.body;
  if (root.members.size() != 3) return out;
  EXPECT_EQ(root.members[0].first, "exception_message");
  EXPECT_EQ(root.members[0].second.text, "Invalid request received.");
  EXPECT_EQ(root.members[1].first, "exception_detail");
  EXPECT_EQ(root.members[2].first, "request_body");
  if (request_body != nullptr) *request_body = Dump(root.members[2].second);
  for (const JsonValue& e : root.members[1].second.items) {
    Err err;
    for (const auto& [k, v] : e.members) {
      if (!err.keys.empty()) err.keys += ",";
      err.keys += k;
    }
    err.type = e.Find("type")->text;
    err.loc = Dump(*e.Find("loc"));
    err.msg = e.Find("msg")->text;
    err.input = Dump(*e.Find("input"));
    if (const JsonValue* ctx = e.Find("ctx")) err.ctx = Dump(*ctx);
    out.push_back(err);
  }
  return out;
}

// The single error of a body.
Err OneError(std::string_view body) {
  std::vector<Err> errs = Errors(Fail(body));
  EXPECT_EQ(errs.size(), 1u) << body;
  return errs.empty() ? Err{} : errs[0];
}

Uuid U(std::string_view s) { return *ParseUuid(s); }

// ---------------------------------------------------------------------------
// Defaults and body reading (paginate.md 1.1, 2).

TEST(PaginateRequestTest, EmptyNullAndIgnoredBodiesMeanDefaults) {
  for (std::string_view body : {"", "null", " null ", "{}", R"({"taskruns": {"id": {}}})",
                                R"({"limit": null, "page": null, "sort": null, "flows": null})"}) {
    SCOPED_TRACE(body);
    PaginateRequest r = Ok(body);
    EXPECT_EQ(r.query.limit, 200);
    EXPECT_EQ(r.query.offset, 0u);
    EXPECT_EQ(r.query.sort, TaskRunSort::kIdDesc);
    EXPECT_EQ(r.page_text, "1");
    EXPECT_FALSE(r.query.filters.flows || r.query.filters.flow_runs ||
                 r.query.filters.task_runs || r.query.filters.deployments);
  }
  // A non-JSON content type: the body is ignored, even garbage.
  RequestOptions not_json;
  not_json.body_is_json = false;
  EXPECT_EQ(Ok("not json {", not_json).query.limit, 200);
}

TEST(PaginateRequestTest, NonObjectTopLevelGivesSevenMissingErrors) {
  for (std::string_view body : {"[1,2]", "\"x\"", "5", "true", "1.5"}) {
    SCOPED_TRACE(body);
    std::string echo;
    std::vector<Err> errs = Errors(Fail(body), &echo);
    ASSERT_EQ(errs.size(), 7u);
    const char* names[] = {"limit", "sort", "page", "flows", "flow_runs", "task_runs", "deployments"};
    for (int i = 0; i < 7; ++i) {
      EXPECT_EQ(errs[i].type, "missing");
      EXPECT_EQ(errs[i].loc, std::string("[\"body\",\"") + names[i] + "\"]");
      EXPECT_EQ(errs[i].msg, "Field required");
      EXPECT_EQ(errs[i].input, "null");
      EXPECT_EQ(errs[i].keys, "type,loc,msg,input");
    }
    EXPECT_EQ(echo, body);
  }
  std::vector<Err> count_errs = Errors(Fail("[]", BodyKind::kCount));
  ASSERT_EQ(count_errs.size(), 4u);
  EXPECT_EQ(count_errs[0].loc, R"(["body","flows"])");
  std::vector<Err> filter_errs = Errors(Fail("[]", BodyKind::kFilter));
  ASSERT_EQ(filter_errs.size(), 7u);
  EXPECT_EQ(filter_errs[2].loc, R"(["body","offset"])");
}

TEST(PaginateRequestTest, BadBodiesAre400) {
  for (std::string_view body : {std::string_view("{\"a\":\"\xFF\"}"), std::string_view("\xFF\xFE{\0}\0", 6)}) {
    auto r = ParsePaginateBody(body);
    ASSERT_TRUE(std::holds_alternative<ApiResponse>(r));
    EXPECT_EQ(std::get<ApiResponse>(r).status, 400);
    EXPECT_EQ(std::get<ApiResponse>(r).body, R"({"detail":"There was an error parsing the body"})");
  }
  EXPECT_EQ(Fail(R"({"page": )" + std::string(4301, '9') + "}").status, 400);
}

TEST(PaginateRequestTest, MalformedJsonIsJsonInvalid) {
  ApiResponse r = Fail(R"({"limit": 1,})");
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(r.body,
            R"({"exception_message":"Invalid request received.","exception_detail":[)"
            R"({"type":"json_invalid","loc":["body",12],"msg":"JSON decode error","input":{},)"
            R"("ctx":{"error":"Expecting property name enclosed in double quotes"}}],)"
            R"("request_body":"{\"limit\": 1,}"})");
  Err two_spaces = Errors(Fail("  "))[0];
  EXPECT_EQ(two_spaces.loc, R"(["body",2])");
  EXPECT_EQ(two_spaces.ctx, R"({"error":"Expecting value"})");
  Err extra = Errors(Fail(R"({"page": 1}garbage)"))[0];
  EXPECT_EQ(extra.loc, R"(["body",11])");
  EXPECT_EQ(extra.ctx, R"({"error":"Extra data"})");
  std::string echo;
  Errors(Fail("\xEF\xBB\xBF{\"n\xC3\xA9\":\n}"), &echo);
  EXPECT_EQ(echo, "\"{\\\"n\xC3\xA9\\\":\\n}\"");
}

// ---------------------------------------------------------------------------
// limit (paginate.md 3.1).

TEST(PaginateRequestTest, LimitRangeErrorsUseDetailAndComeFirst) {
  const std::string kHigh = R"({"detail":"Invalid limit: must be less than or equal to 200."})";
  const std::string kLow = R"({"detail":"Invalid limit: must be greater than or equal to 0."})";
  struct Case {
    std::string body;
    std::string expected;
  } cases[] = {
      {R"({"limit": 201})", kHigh},
      {R"({"limit": -1})", kLow},
      {R"({"limit": 500, "page": 0})", kHigh},
      {R"({"page": 0, "limit": 500, "task_runs": 5})", kHigh},
      {R"({"limit": "201"})", kHigh},
      {R"({"limit": 201.0})", kHigh},
      {R"({"limit": " -7 "})", kLow},
      {R"({"limit": 123456789012345678901234567890})", kHigh},
      {R"({"limit": -123456789012345678901234567890})", kLow},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body);
    ApiResponse r = Fail(c.body);
    EXPECT_EQ(r.status, 422);
    EXPECT_EQ(r.body, c.expected);
  }
}

TEST(PaginateRequestTest, LimitMaximumIsConfigurable) {
  RequestOptions options;
  options.default_limit = 50;
  EXPECT_EQ(Ok("", options).query.limit, 50);
  auto r = ParsePaginateBody(R"({"limit": 51})", options);
  ASSERT_TRUE(std::holds_alternative<ApiResponse>(r));
  EXPECT_EQ(std::get<ApiResponse>(r).body,
            R"({"detail":"Invalid limit: must be less than or equal to 50."})");
}

TEST(PaginateRequestTest, ValidLimitsAndCoercions) {
  EXPECT_EQ(Ok(R"({"limit": 0})").query.limit, 0);
  EXPECT_EQ(Ok(R"({"limit": 200})").query.limit, 200);
  EXPECT_EQ(Ok(R"({"limit": true})").query.limit, 1);
  EXPECT_EQ(Ok(R"({"limit": 5.0})").query.limit, 5);
  EXPECT_EQ(Ok(R"({"limit": -0.0})").query.limit, 0);
  EXPECT_EQ(Ok(R"({"limit": "05"})").query.limit, 5);
}

TEST(PaginateRequestTest, InvalidLimitJoinsTheErrorList) {
  Err e = OneError(R"({"limit": 1e30})");
  EXPECT_EQ(e.type, "int_parsing_size");
  EXPECT_EQ(e.input, "1e+30");
  std::vector<Err> errs = Errors(Fail(R"({"page": 0, "limit": "abc"})"));
  ASSERT_EQ(errs.size(), 2u);
  EXPECT_EQ(errs[0].type, "int_parsing");
  EXPECT_EQ(errs[0].loc, R"(["body","limit"])");
  EXPECT_EQ(errs[1].type, "greater_than_equal");
}

// ---------------------------------------------------------------------------
// page and offset.

TEST(PaginateRequestTest, PageZeroExactBody) {
  ApiResponse r = Fail(R"({"page": 0})");
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(r.body,
            R"({"exception_message":"Invalid request received.","exception_detail":[)"
            R"({"type":"greater_than_equal","loc":["body","page"],)"
            R"("msg":"Input should be greater than or equal to 1","input":0,"ctx":{"ge":1}}],)"
            R"("request_body":{"page":0}})");
  Err neg = OneError(R"({"page": "-3"})");
  EXPECT_EQ(neg.type, "greater_than_equal");
  EXPECT_EQ(neg.input, "\"-3\"");
}

TEST(PaginateRequestTest, PageOffsetAndHugePages) {
  PaginateRequest r = Ok(R"({"limit": 3, "page": 2})");
  EXPECT_EQ(r.query.offset, 3u);
  EXPECT_EQ(r.page_text, "2");
  r = Ok(R"({"limit": "2", "page": "2"})");  // ex24_coerced_strings
  EXPECT_EQ(r.query.limit, 2);
  EXPECT_EQ(r.query.offset, 2u);
  EXPECT_EQ(r.page_text, "2");
  r = Ok(R"({"page": 123456789012345678901234567890})");
  EXPECT_EQ(r.page_text, "123456789012345678901234567890");
  EXPECT_EQ(r.query.offset, std::numeric_limits<uint64_t>::max());
  r = Ok(R"({"page": "  0_123456789012345678901234567890 "})");
  EXPECT_EQ(r.page_text, "123456789012345678901234567890");
  r = Ok(R"({"limit": 0, "page": 123456789012345678901234567890})");
  EXPECT_EQ(r.query.offset, 0u);
  r = Ok(R"({"limit": 200, "page": 18446744073709551615})");
  EXPECT_EQ(r.query.offset, std::numeric_limits<uint64_t>::max());
  r = Ok(R"({"limit": 2, "page": 9223372036854775808})");
  EXPECT_EQ(r.query.offset, 18446744073709551614u);
  r = Ok(R"({"page": 1e15})");
  EXPECT_EQ(r.page_text, "1000000000000000");
  r = Ok(R"({"page": true})");
  EXPECT_EQ(r.page_text, "1");
}

TEST(PaginateRequestTest, FilterEndpointOffset) {
  auto r = ParseRequestBody(R"({"offset": "7", "limit": 3})", BodyKind::kFilter);
  ASSERT_TRUE(std::holds_alternative<RequestFields>(r));
  EXPECT_EQ(std::get<RequestFields>(r).offset, 7u);
  EXPECT_EQ(std::get<RequestFields>(r).limit, 3);
  Err e = Errors(Fail(R"({"offset": -1})", BodyKind::kFilter))[0];
  EXPECT_EQ(e.type, "greater_than_equal");
  EXPECT_EQ(e.msg, "Input should be greater than or equal to 0");
  EXPECT_EQ(e.ctx, R"({"ge":0})");
  // /count reads no limit, sort or page.
  auto c = ParseRequestBody(R"({"limit": 999, "sort": 1, "page": 0, "task_runs": {}})",
                            BodyKind::kCount);
  ASSERT_TRUE(std::holds_alternative<RequestFields>(c));
  EXPECT_TRUE(std::get<RequestFields>(c).filters.task_runs.has_value());
}

// ---------------------------------------------------------------------------
// Integer coercions (paginate.md 2.1, 2.1.1).

TEST(PaginateRequestTest, IntegerStringsAccepted) {
  struct Case {
    std::string input;  // JSON string contents
    std::string page;
  } cases[] = {
      {"5", "5"},         {" 5 ", "5"},        {"+5", "5"},         {"05", "5"},
      {"5_000", "5000"},  {"1.0000", "1"},     {"+0_7", "7"},       {"00.0", "0"},
      {"\\t9\\n", "9"},   {"\\u00a012\\u3000", "12"}, {"1_2_3", "123"}, {"0_0_1", "1"},
      {"10", "10"},       {"000", "0"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.input);
    // Through `limit` when small, which accepts 0; through `page` otherwise.
    auto r = ParseRequestBody("{\"offset\": \"" + c.input + "\"}", BodyKind::kFilter);
    ASSERT_TRUE(std::holds_alternative<RequestFields>(r)) << std::get<ApiResponse>(r).body;
    EXPECT_EQ(std::to_string(std::get<RequestFields>(r).offset), c.page);
  }
  // The two quirks of step 4 give negative numbers: seen through limit's
  // range message.
  for (std::string_view input : {"0-5", "0-_3", "-7", " -1 "}) {
    SCOPED_TRACE(input);
    ApiResponse r = Fail("{\"limit\": \"" + std::string(input) + "\"}");
    EXPECT_EQ(r.body, R"({"detail":"Invalid limit: must be greater than or equal to 0."})");
  }
  Err quirk = OneError(R"({"page": "0-_3"})");
  EXPECT_EQ(quirk.type, "greater_than_equal");
  // Signed zeros are zero.
  EXPECT_EQ(Ok(R"({"limit": "-0.0"})").query.limit, 0);
  EXPECT_EQ(Ok(R"({"limit": "0.0"})").query.limit, 0);
  EXPECT_EQ(Ok(R"({"limit": "-0"})").query.limit, 0);
}

TEST(PaginateRequestTest, IntegerErrors) {
  struct Case {
    std::string value;  // JSON
    std::string type;
  } cases[] = {
      {R"("")", "int_parsing"},      {R"("1.")", "int_parsing"},    {R"("1.5")", "int_parsing"},
      {R"("1.0_0")", "int_parsing"}, {R"("_1")", "int_parsing"},    {R"("1__0")", "int_parsing"},
      {R"("+-5")", "int_parsing"},   {R"("-+5")", "int_parsing"},   {R"("--5")", "int_parsing"},
      {R"("1e3")", "int_parsing"},   {R"("0x10")", "int_parsing"},  {R"("1 000")", "int_parsing"},
      {R"("abc")", "int_parsing"},   {R"("\u001c5")", "int_parsing"}, {R"("\ufeff5")", "int_parsing"},
      {R"("1_")", "int_parsing"},    {R"("0_")", "int_parsing"},    {R"("+")", "int_parsing"},
      {R"("0a")", "int_parsing"},    {R"("٣")", "int_parsing"},
      {"1.5", "int_from_float"},     {"-0.5", "int_from_float"},    {"5e-324", "int_from_float"},
      {"1e19", "int_parsing_size"},  {"9.223372036854775808e18", "int_parsing_size"},
      {"-9.223372036854775808e18", "int_parsing_size"},
      {"[]", "int_type"},            {"{}", "int_type"},            {"[1]", "int_type"},
      {"\"" + std::string(4301, '1') + "\"", "int_parsing_size"},
      {"\" " + std::string(4301, '1') + "\"", "int_parsing"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.value.substr(0, 40));
    Err e = OneError(R"({"page": )" + c.value + "}");
    EXPECT_EQ(e.type, c.type);
    EXPECT_EQ(e.loc, R"(["body","page"])");
    EXPECT_EQ(e.keys, "type,loc,msg,input");
    EXPECT_EQ(e.input, Dump(ParseJsonBody(c.value).value));
  }
  EXPECT_EQ(OneError(R"({"page": "x"})").msg,
            "Input should be a valid integer, unable to parse string as an integer");
  EXPECT_EQ(OneError(R"({"page": 1.5})").msg,
            "Input should be a valid integer, got a number with a fractional part");
  EXPECT_EQ(OneError(R"({"page": []})").msg, "Input should be a valid integer");
  EXPECT_EQ(OneError(R"({"page": 1e19})").msg,
            "Unable to parse input string as an integer, exceeded maximum size");
  // The largest float below 2^63 is fine.
  EXPECT_EQ(Ok(R"({"page": 9.223372036854775e18})").page_text, "9223372036854774784");
}

// ---------------------------------------------------------------------------
// Other scalars.

TEST(PaginateRequestTest, Booleans) {
  struct Case {
    std::string value;
    std::string outcome;  // "true", "false", "bool_parsing", "bool_type"
  } cases[] = {
      {"true", "true"},          {"false", "false"},        {"0", "false"},
      {"1", "true"},             {"0.0", "false"},          {"-0.0", "false"},
      {"1.0", "true"},           {"1e0", "true"},           {R"("0")", "false"},
      {R"("1")", "true"},        {R"("f")", "false"},       {R"("n")", "false"},
      {R"("no")", "false"},      {R"("off")", "false"},     {R"("false")", "false"},
      {R"("FALSE")", "false"},   {R"("t")", "true"},        {R"("y")", "true"},
      {R"("on")", "true"},       {R"("oN")", "true"},       {R"("yes")", "true"},
      {R"("TRUE")", "true"},     {"2", "bool_parsing"},     {"-1", "bool_parsing"},
      {"2.0", "bool_parsing"},   {"1e18", "bool_parsing"},  {R"(" true")", "bool_parsing"},
      {R"("1.0")", "bool_parsing"}, {R"("")", "bool_parsing"}, {R"("truee")", "bool_parsing"},
      {"9223372036854775807", "bool_parsing"},
      {"9223372036854775808", "bool_type"}, {"-9223372036854775809", "bool_type"},
      {"1.5", "bool_type"},      {"5e-324", "bool_type"},   {"1e20", "bool_type"},
      {"-9.223372036854775808e18", "bool_type"}, {"[]", "bool_type"}, {"{}", "bool_type"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.value);
    const std::string body = R"({"task_runs": {"subflow_runs": {"exists_": )" + c.value + "}}}";
    if (c.outcome == "true" || c.outcome == "false") {
      PaginateRequest r = Ok(body);
      ASSERT_TRUE(r.query.filters.task_runs && r.query.filters.task_runs->subflow_runs);
      EXPECT_EQ(r.query.filters.task_runs->subflow_runs->exists, c.outcome == "true");
    } else {
      Err e = OneError(body);
      EXPECT_EQ(e.type, c.outcome);
      EXPECT_EQ(e.loc, R"(["body","task_runs","subflow_runs","exists_"])");
      EXPECT_EQ(e.msg, c.outcome == "bool_type"
                           ? "Input should be a valid boolean"
                           : "Input should be a valid boolean, unable to interpret input");
      EXPECT_EQ(e.ctx, "");
    }
  }
}

TEST(PaginateRequestTest, SortEnum) {
  EXPECT_EQ(Ok(R"({"sort": "NAME_ASC"})").query.sort, TaskRunSort::kNameAsc);
  EXPECT_EQ(Ok(R"({"sort": "END_TIME_DESC"})").query.sort, TaskRunSort::kEndTimeDesc);
  ApiResponse r = Fail(R"({"sort": "name_asc"})");
  const std::string expected =
      "'ID_DESC', 'EXPECTED_START_TIME_ASC', 'EXPECTED_START_TIME_DESC', 'NAME_ASC', "
      "'NAME_DESC', 'NEXT_SCHEDULED_START_TIME_ASC' or 'END_TIME_DESC'";
  EXPECT_EQ(r.body, R"({"exception_message":"Invalid request received.","exception_detail":[)"
                    R"({"type":"enum","loc":["body","sort"],"msg":"Input should be )" +
                        expected + R"(","input":"name_asc","ctx":{"expected":")" + expected +
                        R"("}}],"request_body":{"sort":"name_asc"}})");
  EXPECT_EQ(OneError(R"({"sort": 3})").type, "enum");
  EXPECT_EQ(OneError(R"({"sort": " NAME_ASC"})").type, "enum");
}

TEST(PaginateRequestTest, OperatorAndStateTypeEnums) {
  Err e = OneError(R"({"flows": {"operator": null}})");
  EXPECT_EQ(e.type, "enum");
  EXPECT_EQ(e.loc, R"(["body","flows","operator"])");
  EXPECT_EQ(e.input, "null");
  EXPECT_EQ(e.msg, "Input should be 'and_' or 'or_'");
  EXPECT_EQ(e.ctx, R"({"expected":"'and_' or 'or_'"})");
  EXPECT_EQ(e.keys, "type,loc,msg,input,ctx");
  EXPECT_EQ(OneError(R"({"flow_runs": {"tags": {"operator": "OR_"}}})").loc,
            R"(["body","flow_runs","tags","operator"])");
  Err s = OneError(R"({"task_runs": {"state": {"type": {"any_": ["RUNNING", "running"]}}}})");
  EXPECT_EQ(s.type, "enum");
  EXPECT_EQ(s.loc, R"(["body","task_runs","state","type","any_",1])");
  EXPECT_EQ(s.msg,
            "Input should be 'SCHEDULED', 'PENDING', 'RUNNING', 'COMPLETED', 'FAILED', "
            "'CANCELLED', 'CRASHED', 'PAUSED' or 'CANCELLING'");
  Err n = OneError(R"({"flow_runs": {"state": {"type": {"not_any_": [null]}}}})");
  EXPECT_EQ(n.type, "enum");
  EXPECT_EQ(n.input, "null");
}

TEST(PaginateRequestTest, UuidErrors) {
  Err t = OneError(R"({"task_runs": {"id": {"any_": [5]}}})");
  EXPECT_EQ(t.type, "uuid_type");
  EXPECT_EQ(t.msg, "UUID input should be a string, bytes or UUID object");
  EXPECT_EQ(t.loc, R"(["body","task_runs","id","any_",0])");
  EXPECT_EQ(t.ctx, "");
  EXPECT_EQ(OneError(R"({"flows": {"id": {"not_any_": [null]}}})").type, "uuid_type");
  Err p = OneError(R"({"task_runs": {"id": {"any_": ["nope"]}}})");
  EXPECT_EQ(p.type, "uuid_parsing");
  EXPECT_EQ(p.msg, "Input should be a valid UUID, invalid character: found `n` at 1");
  EXPECT_EQ(p.ctx, R"({"error":"invalid character: found `n` at 1"})");
  EXPECT_EQ(p.input, "\"nope\"");
}

TEST(PaginateRequestTest, DatetimeErrors) {
  Err t = OneError(R"({"task_runs": {"start_time": {"before_": true}}})");
  EXPECT_EQ(t.type, "datetime_type");
  EXPECT_EQ(t.msg, "Input should be a valid datetime");
  EXPECT_EQ(t.ctx, "");
  EXPECT_EQ(OneError(R"({"task_runs": {"start_time": {"after_": [1]}}})").type, "datetime_type");
  EXPECT_EQ(OneError("{\"task_runs\": {\"end_time\": {\"after_\": 1" + std::string(400, '0') + "}}}")
                .type,
            "datetime_type");
  Err d = OneError(R"({"flow_runs": {"expected_start_time": {"after_": "nope"}}})");
  EXPECT_EQ(d.type, "datetime_from_date_parsing");
  EXPECT_EQ(d.msg.rfind("Input should be a valid datetime or date, ", 0), 0u) << d.msg;
  EXPECT_NE(d.ctx.find("\"error\""), std::string::npos);
  Err y = OneError(R"({"flow_runs": {"next_scheduled_start_time": {"before_": "0000-01-01"}}})");
  EXPECT_EQ(y.type, "datetime_parsing");
  EXPECT_EQ(y.msg, "Input should be a valid datetime, year 0 is out of range");
  EXPECT_EQ(y.ctx, R"({"error":"year 0 is out of range"})");
  EXPECT_EQ(OneError(R"({"task_runs": {"start_time": {"before_": 1e17}}})").type,
            "datetime_parsing");
}

TEST(PaginateRequestTest, ContainerTypeErrors) {
  Err l = OneError(R"({"task_runs": {"tags": {"all_": "io"}}})");
  EXPECT_EQ(l.type, "list_type");
  EXPECT_EQ(l.msg, "Input should be a valid list");
  EXPECT_EQ(l.input, "\"io\"");
  EXPECT_EQ(l.loc, R"(["body","task_runs","tags","all_"])");
  Err s = OneError(R"({"flows": {"name": {"like_": 5}}})");
  EXPECT_EQ(s.type, "string_type");
  EXPECT_EQ(s.msg, "Input should be a valid string");
  Err i = OneError(R"({"flows": {"name": {"any_": ["a", null, "b"]}}})");
  EXPECT_EQ(i.type, "string_type");
  EXPECT_EQ(i.loc, R"(["body","flows","name","any_",1])");
  for (std::string_view v : {"[]", "5", "\"x\"", "true", "[{}]"}) {
    SCOPED_TRACE(v);
    Err m = OneError(std::string(R"({"deployments": )") + std::string(v) + "}");
    EXPECT_EQ(m.type, "model_attributes_type");
    EXPECT_EQ(m.msg, "Input should be a valid dictionary or object to extract fields from");
    EXPECT_EQ(m.loc, R"(["body","deployments"])");
    EXPECT_EQ(m.input, v);
  }
  EXPECT_EQ(OneError(R"({"flow_runs": {"state": {"name": 1}}})").loc,
            R"(["body","flow_runs","state","name"])");
}

TEST(PaginateRequestTest, ExtraForbiddenPerClass) {
  struct Case {
    std::string body;
    std::string loc;
  } cases[] = {
      {R"({"task_runs": {"id": {"not_any_": []}}})", R"(["body","task_runs","id","not_any_"])"},
      {R"({"task_runs": {"tags": {"any_": ["io"]}}})", R"(["body","task_runs","tags","any_"])"},
      {R"({"task_runs": {"state": {"type": {"not_any_": []}}}})",
       R"(["body","task_runs","state","type","not_any_"])"},
      {R"({"task_runs": {"state": {"name": {"not_any_": []}}}})",
       R"(["body","task_runs","state","name","not_any_"])"},
      {R"({"task_runs": {"expected_start_time": {"is_null_": true}}})",
       R"(["body","task_runs","expected_start_time","is_null_"])"},
      {R"({"task_runs": {"id": {"operator": "and_"}}})", R"(["body","task_runs","id","operator"])"},
      {R"({"flows": {"tags": {"any_": []}}})", R"(["body","flows","tags","any_"])"},
      {R"({"flow_runs": {"parent_flow_run_id": {"is_null_": true}}})",
       R"(["body","flow_runs","parent_flow_run_id","is_null_"])"},
      {R"({"flow_runs": {"flow_version": {"operator": "or_"}}})",
       R"(["body","flow_runs","flow_version","operator"])"},
      {R"({"deployments": {"work_queue_name": {"is_null_": true}}})",
       R"(["body","deployments","work_queue_name","is_null_"])"},
      {R"({"deployments": {"flow_or_deployment_name": {"any_": []}}})",
       R"(["body","deployments","flow_or_deployment_name","any_"])"},
      {R"({"deployments": {"concurrency_limit": {"eq_": 1}}})",
       R"(["body","deployments","concurrency_limit","eq_"])"},
      {R"({"task_runs": {"names": {}}})", R"(["body","task_runs","names"])"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body);
    Err e = OneError(c.body);
    EXPECT_EQ(e.type, "extra_forbidden");
    EXPECT_EQ(e.loc, c.loc);
    EXPECT_EQ(e.msg, "Extra inputs are not permitted");
    EXPECT_EQ(e.keys, "type,loc,msg,input");
  }
}

// ---------------------------------------------------------------------------
// Ordering and echo (paginate.md 3.2).

TEST(PaginateRequestTest, MultiErrorOrderingExample) {
  std::string echo;
  std::vector<Err> errs = Errors(
      Fail(R"({"task_runs":{"zz":1,"id":{"yy":2,"any_":[5]},"tags":{"xx":0,"operator":null}},"flows":{"zz":0}})"),
      &echo);
  ASSERT_EQ(errs.size(), 6u);
  EXPECT_EQ(errs[0].type, "extra_forbidden");
  EXPECT_EQ(errs[0].loc, R"(["body","flows","zz"])");
  EXPECT_EQ(errs[0].input, "0");
  EXPECT_EQ(errs[1].type, "uuid_type");
  EXPECT_EQ(errs[1].loc, R"(["body","task_runs","id","any_",0])");
  EXPECT_EQ(errs[2].type, "extra_forbidden");
  EXPECT_EQ(errs[2].loc, R"(["body","task_runs","id","yy"])");
  EXPECT_EQ(errs[3].type, "enum");
  EXPECT_EQ(errs[3].loc, R"(["body","task_runs","tags","operator"])");
  EXPECT_EQ(errs[3].input, "null");
  EXPECT_EQ(errs[4].type, "extra_forbidden");
  EXPECT_EQ(errs[4].loc, R"(["body","task_runs","tags","xx"])");
  EXPECT_EQ(errs[5].type, "extra_forbidden");
  EXPECT_EQ(errs[5].loc, R"(["body","task_runs","zz"])");
  EXPECT_EQ(echo,
            R"({"task_runs":{"zz":1,"id":{"yy":2,"any_":[5]},"tags":{"xx":0,"operator":null}},"flows":{"zz":0}})");
}

TEST(PaginateRequestTest, FourErrorsExample) {
  std::string echo;
  std::vector<Err> errs = Errors(
      Fail(R"({"limit": "abc", "page": 0, "task_runs": {"names": {}, "id": {"any_": ["nope"]}}})"),
      &echo);
  ASSERT_EQ(errs.size(), 4u);
  EXPECT_EQ(errs[0].type, "int_parsing");
  EXPECT_EQ(errs[0].loc, R"(["body","limit"])");
  EXPECT_EQ(errs[1].type, "greater_than_equal");
  EXPECT_EQ(errs[1].loc, R"(["body","page"])");
  EXPECT_EQ(errs[2].type, "uuid_parsing");
  EXPECT_EQ(errs[2].ctx, R"({"error":"invalid character: found `n` at 1"})");
  EXPECT_EQ(errs[3].type, "extra_forbidden");
  EXPECT_EQ(errs[3].loc, R"(["body","task_runs","names"])");
  EXPECT_EQ(errs[3].input, "{}");
  EXPECT_EQ(echo,
            R"({"limit":"abc","page":0,"task_runs":{"names":{},"id":{"any_":["nope"]}}})");
}

TEST(PaginateRequestTest, FieldErrorsFollowDeclarationOrderNotBodyOrder) {
  std::vector<Err> errs = Errors(Fail(
      R"({"deployments": {"x": 1}, "task_runs": {"flow_run_id": {"any_": 1}, "id": 2},)"
      R"( "flow_runs": {"created_by": {"is_null_": 3, "id_": [1]}, "operator": 5}, "sort": 0})"));
  std::vector<std::string> locs;
  for (const Err& e : errs) locs.push_back(e.type + " " + e.loc);
  EXPECT_EQ(locs, (std::vector<std::string>{
                      R"(enum ["body","sort"])",
                      R"(enum ["body","flow_runs","operator"])",
                      R"(uuid_type ["body","flow_runs","created_by","id_",0])",
                      R"(bool_parsing ["body","flow_runs","created_by","is_null_"])",
                      R"(model_attributes_type ["body","task_runs","id"])",
                      R"(list_type ["body","task_runs","flow_run_id","any_"])",
                      R"(extra_forbidden ["body","deployments","x"])",
                  }));
}

TEST(PaginateRequestTest, RequestBodyEchoesPythonValues) {
  std::string echo;
  Errors(Fail(R"({"page": 0, "x": [1E3, 1e20, -0, -0.0, 1.50, "é\u0007", 123456789012345678901234567890], "page": -0})"),
         &echo);
  EXPECT_EQ(echo,
            "{\"page\":0,\"x\":[1000.0,1e+20,0,-0.0,1.5,\"\xC3\xA9\\u0007\","
            "123456789012345678901234567890]}");
  Err e = OneError(R"({"task_runs": {"id": {"any_": [1E3]}}})");
  EXPECT_EQ(e.input, "1000.0");
}

// ---------------------------------------------------------------------------
// Successful parses.

TEST(PaginateRequestTest, FlowRunIdIsNullDefaultsToFalse) {
  PaginateRequest r = Ok(R"({"task_runs": {"flow_run_id": {}}})");
  ASSERT_TRUE(r.query.filters.task_runs && r.query.filters.task_runs->flow_run_id);
  EXPECT_EQ(r.query.filters.task_runs->flow_run_id->is_null, std::optional<bool>(false));
  EXPECT_FALSE(r.query.filters.task_runs->flow_run_id->any.has_value());
  r = Ok(R"({"task_runs": {"flow_run_id": {"is_null_": null}}})");
  EXPECT_EQ(r.query.filters.task_runs->flow_run_id->is_null, std::nullopt);
  r = Ok(R"({"task_runs": {"flow_run_id": {"is_null_": "yes",)"
         R"( "any_": ["A0000000-0000-0000-0000-00000000000F"]}}})");
  EXPECT_EQ(r.query.filters.task_runs->flow_run_id->is_null, std::optional<bool>(true));
  ASSERT_TRUE(r.query.filters.task_runs->flow_run_id->any.has_value());
  EXPECT_EQ(*r.query.filters.task_runs->flow_run_id->any,
            std::vector<Uuid>{U("a0000000-0000-0000-0000-00000000000f")});
  // Other is_null_ fields: null is absent.
  r = Ok(R"({"flow_runs": {"deployment_id": {"is_null_": null}}})");
  EXPECT_EQ(r.query.filters.flow_runs->deployment_id->is_null, std::nullopt);
}

TEST(PaginateRequestTest, TaskRunFilterFields) {
  PaginateRequest r = Ok(R"({"sort": "NAME_DESC", "task_runs": {
      "operator": "or_",
      "id": {"any_": []},
      "name": {"any_": ["a", "b"], "like_": "x%"},
      "tags": {"all_": ["io"], "is_null_": false, "operator": "or_"},
      "state": {"type": {"any_": ["RUNNING", "CANCELLING"]}, "name": {"any_": ["Late"]}},
      "start_time": {"before_": "2024-05-01T10:00:00Z", "after_": 0, "is_null_": 0},
      "end_time": null,
      "expected_start_time": {"after_": "1970-01-01T00:00:01.5+00:00"},
      "subflow_runs": {"exists_": "off"}}})");
  EXPECT_EQ(r.query.sort, TaskRunSort::kNameDesc);
  ASSERT_TRUE(r.query.filters.task_runs);
  const TaskRunFilter& t = *r.query.filters.task_runs;
  EXPECT_EQ(t.op, BoolOp::kOr);
  ASSERT_TRUE(t.id && t.id->any);
  EXPECT_TRUE(t.id->any->empty());
  EXPECT_FALSE(t.id->not_any);
  ASSERT_TRUE(t.name);
  EXPECT_EQ(*t.name->any, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(t.name->like, std::optional<std::string>("x%"));
  ASSERT_TRUE(t.tags);
  EXPECT_EQ(t.tags->op, BoolOp::kOr);
  EXPECT_EQ(*t.tags->all, std::vector<std::string>{"io"});
  EXPECT_EQ(t.tags->is_null, std::optional<bool>(false));
  ASSERT_TRUE(t.state && t.state->type && t.state->name);
  EXPECT_EQ(t.state->op, BoolOp::kAnd);
  EXPECT_EQ(*t.state->type->any,
            (std::vector<StateType>{StateType::kRunning, StateType::kCancelling}));
  EXPECT_EQ(*t.state->name->any, std::vector<std::string>{"Late"});
  ASSERT_TRUE(t.start_time);
  EXPECT_EQ(t.start_time->before, std::optional<Micros>(1714557600000000));
  EXPECT_EQ(t.start_time->after, std::optional<Micros>(0));
  EXPECT_EQ(t.start_time->is_null, std::optional<bool>(false));
  EXPECT_FALSE(t.end_time);
  ASSERT_TRUE(t.expected_start_time);
  EXPECT_EQ(t.expected_start_time->after, std::optional<Micros>(1500000));
  EXPECT_FALSE(t.expected_start_time->before);
  ASSERT_TRUE(t.subflow_runs);
  EXPECT_EQ(t.subflow_runs->exists, std::optional<bool>(false));
  EXPECT_FALSE(t.flow_run_id);
}

TEST(PaginateRequestTest, FlowRunFlowAndDeploymentFilterFields) {
  PaginateRequest r = Ok(R"({
    "flow_runs": {"id": {"not_any_": ["00000000-0000-4000-8000-000000000001"]},
                  "tags": {"any_": ["x"]},
                  "deployment_id": {"operator": "or_", "is_null_": true},
                  "work_queue_name": {"any_": ["q"], "is_null_": false},
                  "flow_version": {"any_": ["1.0"]},
                  "state": {"operator": "or_", "type": {"not_any_": ["FAILED"]},
                            "name": {"any_": ["A"], "not_any_": ["B"]}},
                  "next_scheduled_start_time": {"before_": 20000000001},
                  "parent_flow_run_id": {"any_": []},
                  "parent_task_run_id": {"is_null_": 1},
                  "idempotency_key": {"not_any_": ["k"]},
                  "created_by": {"id_": [], "type_": ["USER"], "is_null_": false}},
    "flows": {"operator": "or_", "deployment": {"is_null_": true}, "name": {"like_": ""},
              "tags": {"all_": []}},
    "deployments": {"paused": {"eq_": "t"}, "flow_or_deployment_name": {"like_": "d_1"},
                    "tags": {"is_null_": false},
                    "concurrency_limit": {"ge_": "5", "le_": 123456789012345678901, "is_null_": null}}})");
  ASSERT_TRUE(r.query.filters.flow_runs && r.query.filters.flows && r.query.filters.deployments);
  const FlowRunFilter& fr = *r.query.filters.flow_runs;
  EXPECT_EQ(*fr.id->not_any, std::vector<Uuid>{U("00000000-0000-4000-8000-000000000001")});
  EXPECT_FALSE(fr.id->any);
  EXPECT_EQ(*fr.tags->any, std::vector<std::string>{"x"});
  EXPECT_EQ(fr.deployment_id->op, BoolOp::kOr);
  EXPECT_EQ(fr.deployment_id->is_null, std::optional<bool>(true));
  EXPECT_EQ(fr.work_queue_name->is_null, std::optional<bool>(false));
  EXPECT_EQ(*fr.flow_version->any, std::vector<std::string>{"1.0"});
  EXPECT_EQ(fr.state->op, BoolOp::kOr);
  EXPECT_EQ(*fr.state->type->not_any, std::vector<StateType>{StateType::kFailed});
  EXPECT_EQ(*fr.state->name->not_any, std::vector<std::string>{"B"});
  EXPECT_EQ(fr.next_scheduled_start_time->before, std::optional<Micros>(20000000001000));
  EXPECT_TRUE(fr.parent_flow_run_id->any && fr.parent_flow_run_id->any->empty());
  EXPECT_EQ(fr.parent_flow_run_id->is_null, std::nullopt);
  EXPECT_EQ(fr.parent_task_run_id->is_null, std::optional<bool>(true));
  EXPECT_EQ(*fr.idempotency_key->not_any, std::vector<std::string>{"k"});
  EXPECT_TRUE(fr.created_by->id && fr.created_by->id->empty());
  EXPECT_EQ(*fr.created_by->type, std::vector<std::string>{"USER"});
  EXPECT_EQ(fr.created_by->is_null, std::optional<bool>(false));
  const FlowFilter& f = *r.query.filters.flows;
  EXPECT_EQ(f.op, BoolOp::kOr);
  EXPECT_EQ(f.deployment->is_null, std::optional<bool>(true));
  EXPECT_EQ(f.name->like, std::optional<std::string>(""));
  EXPECT_TRUE(f.tags->all && f.tags->all->empty());
  const DeploymentFilter& d = *r.query.filters.deployments;
  EXPECT_EQ(d.paused->eq, std::optional<bool>(true));
  EXPECT_EQ(d.flow_or_deployment_name->like, std::optional<std::string>("d_1"));
  EXPECT_FALSE(d.flow_or_deployment_name->any);
  EXPECT_EQ(d.tags->is_null, std::optional<bool>(false));
  EXPECT_TRUE(d.has_concurrency_limit);
  EXPECT_FALSE(Ok(R"({"deployments": {"concurrency_limit": null}})")
                   .query.filters.deployments->has_concurrency_limit);
}

TEST(PaginateRequestTest, ConcurrencyLimitIsValidated) {
  std::vector<Err> errs =
      Errors(Fail(R"({"deployments": {"concurrency_limit": {"le_": 1.5, "ge_": "x", "is_null_": 2}}})"));
  ASSERT_EQ(errs.size(), 3u);
  EXPECT_EQ(errs[0].type, "int_parsing");
  EXPECT_EQ(errs[0].loc, R"(["body","deployments","concurrency_limit","ge_"])");
  EXPECT_EQ(errs[1].type, "int_from_float");
  EXPECT_EQ(errs[2].type, "bool_parsing");
}

// ---------------------------------------------------------------------------
// examples.jsonl: every error case, and the coerced-string case.

TEST(PaginateRequestTest, ExamplesJsonlErrorCases) {
  std::ifstream in(std::string(TASKDEX_EXAMPLES_DIR) + "/examples.jsonl");
  ASSERT_TRUE(in.good());
  std::string line;
  int error_cases = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    JsonParseResult p = ParseJsonBody(line);
    ASSERT_EQ(p.status, JsonParseResult::Status::kOk);
    const std::string name = p.value.Find("name")->text;
    const JsonValue& expect = *p.value.Find("expect");
    const std::string body = Dump(*p.value.Find("body"));
    SCOPED_TRACE(name + ": " + body);
    auto result = ParsePaginateBody(body);
    const JsonValue* status = expect.Find("status");
    if (status == nullptr) {
      ASSERT_TRUE(std::holds_alternative<PaginateRequest>(result))
          << std::get<ApiResponse>(result).body;
      const PaginateRequest& r = std::get<PaginateRequest>(result);
      if (const JsonValue* limit = expect.Find("limit")) {
        EXPECT_EQ(r.query.limit, limit->int_value);
      }
      if (const JsonValue* page = expect.Find("page")) {
        EXPECT_EQ(r.page_text, page->text);
      }
      continue;
    }
    ++error_cases;
    ASSERT_TRUE(std::holds_alternative<ApiResponse>(result));
    const ApiResponse& resp = std::get<ApiResponse>(result);
    EXPECT_EQ(resp.status, status->int_value);
    if (const JsonValue* detail = expect.Find("detail")) {
      std::string want = "{\"detail\":";
      AppendJsonValue(&want, *detail);
      want += "}";
      EXPECT_EQ(resp.body, want);
    }
    if (const JsonValue* errors = expect.Find("errors")) {
      std::vector<Err> got = Errors(resp);
      ASSERT_EQ(got.size(), errors->items.size());
      for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].type, errors->items[i].Find("type")->text);
        EXPECT_EQ(got[i].loc, Dump(*errors->items[i].Find("loc")));
      }
    }
  }
  EXPECT_GE(error_cases, 7);
}

}  // namespace
}  // namespace taskdex
