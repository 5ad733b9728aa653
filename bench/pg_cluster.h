// bench/pg_cluster.h
//
// A throwaway PostgreSQL 15 server for tests and benchmarks: initdb into a
// fresh temporary directory, start it on a free 127.0.0.1 port, create
// database "prefect", and remove everything on destruction. For code that
// reads Prefect's database (bench/prefect_db.h writes it); never for
// production. Tests run it with fsync and synchronous_commit off (fast);
// benchmarks ask for PgClusterOptions::benchmark, a server configured as a
// production one would be (durable commits, 256 MB shared_buffers).
//
// Layout of the temporary directory /tmp/taskdex-pg-XXXXXX:
//   data/          the cluster (initdb -U postgres -A trust -E UTF8 --locale=C)
//   postgres.log   the server's log (pg_ctl -l)
//   .s.PGSQL.PORT  the unix socket (unix_socket_directories)
//   cmd.out        stdout+stderr of the last initdb / pg_ctl run
//   owner.pid      the test process; Start() of a later process stops and
//                  removes clusters whose owner is gone (crashed tests)
// The superuser is `postgres` whichever OS user runs the test; local and
// 127.0.0.1 connections are trusted (no password), replication included.
// Run as root, initdb and pg_ctl run as the OS user `postgres` (forked
// child, setuid) and the directory is chowned to it, since PostgreSQL
// refuses to run as root.
//
// Child processes are fork/exec'ed with argument vectors (no shell); their
// output lands in cmd.out and is quoted in the error on failure.
//
// Thread safety: not thread-safe; url() and port() are const and safe once
// Start returned.

#ifndef TASKDEX_BENCH_PG_CLUSTER_H_
#define TASKDEX_BENCH_PG_CLUSTER_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace taskdex {

struct PgClusterOptions {
  // wal_level=logical, max_replication_slots=4, max_wal_senders=4.
  bool logical = false;
  // fsync and synchronous_commit on, shared_buffers 256MB, work_mem 16MB.
  bool benchmark = false;
};

class PgCluster {
 public:
  // Unavailable when the server binaries are missing (message says how to
  // install them); Internal with the child's output when initdb or pg_ctl
  // fails; DeadlineExceeded if the server does not accept connections
  // within ~30 s.
  static absl::StatusOr<std::unique_ptr<PgCluster>> Start(PgClusterOptions options = {});
  ~PgCluster();  // pg_ctl stop -m immediate, then removes the directory
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  // "postgresql://postgres@127.0.0.1:PORT/prefect" (a libpq URI).
  std::string url() const { return UrlOf("prefect"); }
  // The same for another database of this cluster.
  std::string UrlOf(const std::string& database) const;
  int port() const { return port_; }
  const std::string& dir() const { return dir_; }

  // CREATE DATABASE `name` (REQUIRES: a plain identifier); returns UrlOf(name).
  absl::StatusOr<std::string> CreateDatabase(const std::string& name);

  // pg_ctl restart -m fast: same port, same data; connections are dropped.
  absl::Status Restart();
  // Stop (-m fast) and start the server without touching the data.
  absl::Status StopServer();
  absl::Status StartServer();

 private:
  PgCluster() = default;
  // Runs bin_dir_/program with `args` as the cluster's OS user; Internal
  // with the output on a non-zero exit.
  absl::Status RunTool(const std::string& program, const std::vector<std::string>& args);
  absl::Status WaitAccepting();
  // Stops and removes the clusters of test processes that died without
  // their destructor (a crash, an ASan abort, SIGKILL): /tmp/taskdex-pg-*
  // whose owner.pid names no live process.
  void RemoveAbandoned() const;
  std::vector<std::string> StartArgs(const char* action) const;

  std::string bin_dir_;
  std::string dir_;
  int port_ = 0;
  bool running_ = false;
  std::optional<uid_t> run_as_uid_;  // set when started as root
  gid_t run_as_gid_ = 0;
};

}  // namespace taskdex

#endif  // TASKDEX_BENCH_PG_CLUSTER_H_
