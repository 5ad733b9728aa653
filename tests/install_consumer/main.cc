// Loads a snapshot through the installed public API and answers one body.
// Usage: consumer SNAPSHOT_DIR. Prints the status and the count.
#include <iostream>
#include <memory>
#include <string>

#include "api/taskdex.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: consumer SNAPSHOT_DIR\n";
    return 1;
  }
  absl::StatusOr<std::unique_ptr<taskdex::Engine>> engine = taskdex::Engine::Open(argv[1]);
  if (!engine.ok()) {
    std::cerr << engine.status().message() << "\n";
    return 1;
  }
  taskdex::Response r = (*engine)->PaginateJson(R"({"limit": 1})", taskdex::NowMicros());
  taskdex::PaginateQuery q;
  q.filters.task_runs.emplace().tags.emplace().all = std::vector<std::string>{"io"};
  taskdex::TaskRunPage page = (*engine)->Paginate(q);
  std::cout << "status " << r.status << " tagged_io " << page.count << "\n";
  return r.status == 200 ? 0 : 1;
}
