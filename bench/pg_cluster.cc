// bench/pg_cluster.cc: PgCluster (pg_cluster.h).

#include "bench/pg_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"

namespace taskdex {
namespace {

bool IsExecutable(const std::string& path) { return access(path.c_str(), X_OK) == 0; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A port that was free a moment ago (bind to port 0, read it, close).
absl::StatusOr<int> FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const std::string error = std::strerror(errno);
    close(fd);
    return absl::InternalError(absl::StrCat("bind 127.0.0.1:0: ", error));
  }
  close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

// pg_config --bindir, when pg_config is on PATH and runs.
std::optional<std::string> PgConfigBinDir() {
  std::array<int, 2> pipe_fds;
  if (pipe2(pipe_fds.data(), O_CLOEXEC) != 0) return std::nullopt;
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(pipe_fds[1], 1);
    const int null_fd = open("/dev/null", O_WRONLY);
    if (null_fd >= 0) dup2(null_fd, 2);
    char arg0[] = "pg_config";
    char arg1[] = "--bindir";
    char* argv[] = {arg0, arg1, nullptr};
    execvp(arg0, argv);
    _exit(127);
  }
  close(pipe_fds[1]);
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = read(pipe_fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(pipe_fds[0]);
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    return std::nullopt;
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PgCluster>> PgCluster::Start(PgClusterOptions options) {
  std::unique_ptr<PgCluster> cluster(new PgCluster());
  for (std::string candidate :
       {std::string("/usr/lib/postgresql/15/bin"), PgConfigBinDir().value_or("")}) {
    if (!candidate.empty() && IsExecutable(candidate + "/initdb") &&
        IsExecutable(candidate + "/pg_ctl") && IsExecutable(candidate + "/postgres")) {
      cluster->bin_dir_ = candidate;
      break;
    }
  }
  if (cluster->bin_dir_.empty()) {
    return absl::UnavailableError(
        "PostgreSQL 15 server binaries (initdb, pg_ctl, postgres) not found in "
        "/usr/lib/postgresql/15/bin nor `pg_config --bindir`. Install Debian package "
        "postgresql-15 (scripts/install-deps.sh does; CI has it, so a skip there is a bug)");
  }
  if (geteuid() == 0) {
    const passwd* pw = getpwnam("postgres");
    if (pw == nullptr) {
      return absl::UnavailableError(
          "running as root and there is no OS user `postgres` to run PostgreSQL as "
          "(package postgresql-15 creates it)");
    }
    cluster->run_as_uid_ = pw->pw_uid;
    cluster->run_as_gid_ = pw->pw_gid;
  }
  cluster->RemoveAbandoned();
  char tmpl[] = "/tmp/taskdex-pg-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp: ", std::strerror(errno)));
  }
  cluster->dir_ = tmpl;
  std::ofstream(cluster->dir_ + "/owner.pid") << getpid() << "\n";
  if (cluster->run_as_uid_ && chown(tmpl, *cluster->run_as_uid_, cluster->run_as_gid_) != 0) {
    return absl::InternalError(absl::StrCat("chown ", tmpl, ": ", std::strerror(errno)));
  }
  const std::string data = cluster->dir_ + "/data";
  absl::Status status =
      cluster->RunTool("initdb", {"-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                                  "--locale=C", "--no-sync", "--no-instructions"});
  if (!status.ok()) return status;
  {
    std::ofstream conf(data + "/postgresql.conf", std::ios::app);
    conf << "\n# bench/pg_cluster.cc\n"
         << "listen_addresses = '127.0.0.1'\n"
         << "unix_socket_directories = '" << cluster->dir_ << "'\n"
         << "max_connections = 40\n";
    if (options.benchmark) {
      conf << "shared_buffers = 256MB\nwork_mem = 16MB\nmax_wal_size = 4GB\n";
    } else {
      conf << "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
           << "shared_buffers = 16MB\n";
    }
    if (options.logical) {
      conf << "wal_level = logical\nmax_replication_slots = 4\nmax_wal_senders = 4\n";
    }
    if (!conf) return absl::InternalError("cannot append to " + data + "/postgresql.conf");
  }
  // The port may be taken between FreePort and the bind: retry a few times.
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<int> port = FreePort();
    if (!port.ok()) return port.status();
    cluster->port_ = *port;
    status = cluster->StartServer();
    if (status.ok() || attempt == 4) break;
    if (ReadFile(cluster->dir_ + "/postgres.log").find("in use") == std::string::npos) break;
  }
  if (!status.ok()) return status;
  absl::StatusOr<std::string> url = cluster->CreateDatabase("prefect");
  if (!url.ok()) return url.status();
  return cluster;
}

PgCluster::~PgCluster() {
  if (running_) {
    // Best effort: the directory goes away below anyway.
    RunTool("pg_ctl", {"-D", dir_ + "/data", "-m", "immediate", "-w", "stop"}).IgnoreError();
  }
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

void PgCluster::RemoveAbandoned() const {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/tmp", error)) {
    const std::string path = entry.path().string();
    if (path.rfind("/tmp/taskdex-pg-", 0) != 0) continue;
    std::ifstream in(path + "/owner.pid");
    long pid = 0;
    // No owner.pid: being created right now, or not ours. Leave it.
    if (!(in >> pid) || pid <= 0) continue;
    if (kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // owner alive
    // Its destructor stops the server (if one runs) and removes the dir.
    PgCluster stale;
    stale.bin_dir_ = bin_dir_;
    stale.dir_ = path;
    stale.run_as_uid_ = run_as_uid_;
    stale.run_as_gid_ = run_as_gid_;
    stale.running_ = std::filesystem::exists(path + "/data/postmaster.pid");
  }
}

std::string PgCluster::UrlOf(const std::string& database) const {
  return absl::StrCat("postgresql://postgres@127.0.0.1:", port_, "/", database);
}

absl::Status PgCluster::RunTool(const std::string& program, const std::vector<std::string>& args) {
  const std::string path = bin_dir_ + "/" + program;
  const std::string out_path = dir_ + "/cmd.out";
  const int out_fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int in_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (out_fd < 0 || in_fd < 0) {
    if (out_fd >= 0) close(out_fd);
    if (in_fd >= 0) close(in_fd);
    return absl::InternalError(absl::StrCat("open ", out_path, ": ", std::strerror(errno)));
  }
  // Everything the child needs is built before fork: after it, only
  // async-signal-safe calls (the test binary may have threads).
  std::vector<std::string> argv_strings = {path};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  const std::optional<uid_t> uid = run_as_uid_;
  const gid_t gid = run_as_gid_;
  const char* cwd = dir_.c_str();
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(in_fd, 0);
    dup2(out_fd, 1);
    dup2(out_fd, 2);
    if (uid) {
      if (setgroups(0, nullptr) != 0 || setgid(gid) != 0 || setuid(*uid) != 0) _exit(126);
    }
    if (chdir(cwd) != 0) _exit(126);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out_fd);
  close(in_fd);
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return absl::InternalError(absl::StrCat("waitpid: ", std::strerror(errno)));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return absl::OkStatus();
  std::string what = WIFEXITED(status) ? absl::StrCat("exit code ", WEXITSTATUS(status))
                                       : absl::StrCat("signal ", WTERMSIG(status));
  if (WIFEXITED(status) && WEXITSTATUS(status) == 126) what += " (setuid/chdir failed)";
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) what += " (exec failed)";
  std::string message = absl::StrCat(path, " ", what, ": ", ReadFile(out_path));
  if (program == "pg_ctl") {
    absl::StrAppend(&message, "\n--- ", dir_, "/postgres.log ---\n",
                    ReadFile(dir_ + "/postgres.log"));
  }
  return absl::InternalError(message);
}

std::vector<std::string> PgCluster::StartArgs(const char* action) const {
  return {"-D", dir_ + "/data", "-l", dir_ + "/postgres.log",     "-w",
          "-t", "30",           "-o", absl::StrCat("-p ", port_), action};
}

absl::Status PgCluster::WaitAccepting() {
  const std::string conninfo = absl::StrCat("host=127.0.0.1 port=", port_,
                                            " user=postgres dbname=postgres connect_timeout=2");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::string last;
  while (std::chrono::steady_clock::now() < deadline) {
    PGconn* conn = PQconnectdb(conninfo.c_str());
    const bool ok = PQstatus(conn) == CONNECTION_OK;
    last = PQerrorMessage(conn);
    PQfinish(conn);
    if (ok) return absl::OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("PostgreSQL on port ", port_, " not accepting connections after 30 s: ", last));
}

absl::Status PgCluster::StartServer() {
  absl::Status status = RunTool("pg_ctl", StartArgs("start"));
  if (!status.ok()) return status;
  running_ = true;
  return WaitAccepting();
}

absl::Status PgCluster::StopServer() {
  absl::Status status =
      RunTool("pg_ctl", {"-D", dir_ + "/data", "-m", "fast", "-w", "-t", "30", "stop"});
  if (status.ok()) running_ = false;
  return status;
}

absl::Status PgCluster::Restart() {
  std::vector<std::string> args = StartArgs("restart");
  args.insert(args.begin(), {"-m", "fast"});
  absl::Status status = RunTool("pg_ctl", args);
  if (!status.ok()) return status;
  running_ = true;
  return WaitAccepting();
}

absl::StatusOr<std::string> PgCluster::CreateDatabase(const std::string& name) {
  PGconn* conn = PQconnectdb(UrlOf("postgres").c_str());
  absl::Status status;
  if (PQstatus(conn) != CONNECTION_OK) {
    status = absl::UnavailableError(absl::StrCat("connecting: ", PQerrorMessage(conn)));
  } else {
    PGresult* result = PQexec(conn, absl::StrCat("CREATE DATABASE ", name).c_str());
    if (PQresultStatus(result) != PGRES_COMMAND_OK) {
      status = absl::InternalError(
          absl::StrCat("CREATE DATABASE ", name, ": ", PQresultErrorMessage(result)));
    }
    PQclear(result);
  }
  PQfinish(conn);
  if (!status.ok()) return status;
  return UrlOf(name);
}

}  // namespace taskdex
