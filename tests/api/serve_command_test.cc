// How `taskdex serve` reads its auth string from the environment.

#include "api/serve_command.h"

#include <cstdlib>
#include <optional>
#include <string>

#include "gtest/gtest.h"

namespace taskdex {
namespace {

class AuthEnvTest : public ::testing::Test {
 protected:
  void SetUp() override { Clear(); }
  void TearDown() override { Clear(); }
  static void Clear() {
    unsetenv("TASKDEX_AUTH_STRING");
    unsetenv("PREFECT_SERVER_API_AUTH_STRING");
  }
};

TEST_F(AuthEnvTest, UnsetMeansNoAuth) { EXPECT_EQ(AuthStringFromEnv(), std::nullopt); }

TEST_F(AuthEnvTest, EmptyPrefectVariableMeansAuthWithEmptyCredentials) {
  setenv("PREFECT_SERVER_API_AUTH_STRING", "", 1);
  EXPECT_EQ(AuthStringFromEnv(), std::optional<std::string>(""));
}

TEST_F(AuthEnvTest, TaskdexVariableWins) {
  setenv("PREFECT_SERVER_API_AUTH_STRING", "a:b", 1);
  EXPECT_EQ(AuthStringFromEnv(), std::optional<std::string>("a:b"));
  setenv("TASKDEX_AUTH_STRING", "", 1);
  EXPECT_EQ(AuthStringFromEnv(), std::optional<std::string>(""));
}

}  // namespace
}  // namespace taskdex
