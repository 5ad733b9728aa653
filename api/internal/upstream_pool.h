// api/internal/upstream_pool.h
//
// The state api/upstream_proxy.h's UpstreamProxy shares between event
// loops: the upstream connections (open count, idle ones per loop) and the
// exchanges waiting for one. Shared by upstream_proxy.cc (creation,
// metrics) and upstream_exchange.cc (the exchanges) only.
//
// Invariants: `open` counts the pooled connections, busy or idle, and
// never exceeds options.max_connections; an idle connection is used only
// on the loop that made it (an Asio socket lives on one loop); a slot
// freed while exchanges wait goes to the first of them (FIFO).
// Thread safety: every member but the atomics and the constants is
// guarded by `mu`, held for list operations only, never across I/O.

#ifndef TASKDEX_API_INTERNAL_UPSTREAM_POOL_H_
#define TASKDEX_API_INTERNAL_UPSTREAM_POOL_H_

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>

#include "api/upstream_proxy.h"

namespace taskdex {
namespace api_internal {

namespace net = boost::asio;
namespace beast = boost::beast;
using Clock = std::chrono::steady_clock;

// One upstream connection; used only on the loop it was made on.
struct UpstreamConn {
  explicit UpstreamConn(const net::any_io_executor& ex) : stream(ex) {}
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  Clock::time_point idle_since{};
  bool counted = true;  // holds one of the pool's max_connections slots
};

// An exchange waiting for a connection: granted an idle one made on its
// loop, or (null) a slot to open one.
struct Waiter {
  net::any_io_executor executor;
  const void* loop = nullptr;
  std::function<void(std::shared_ptr<UpstreamConn>)> grant;
};

inline const void* LoopOf(const net::any_io_executor& ex) {
  return &net::query(ex, net::execution::context);
}

}  // namespace api_internal

struct UpstreamProxy::Rep {
  using Clock = std::chrono::steady_clock;
  using UpstreamConn = api_internal::UpstreamConn;
  using Waiter = api_internal::Waiter;

  UpstreamOptions options;
  UpstreamUrl url;
  ForwardDone done;

  std::mutex mu;
  size_t open = 0;  // counted connections, busy or idle (guarded by mu)
  std::map<const void*, std::vector<std::shared_ptr<UpstreamConn>>> idle;  // by loop (mu)
  std::deque<std::shared_ptr<Waiter>> waiters;                           // FIFO (mu)
  std::map<int, uint64_t> by_status;                                    // (mu)
  double seconds_sum = 0;                                               // (mu)
  std::atomic<uint64_t> forwarded{0}, errors_502{0}, errors_504{0}, opened{0}, tunnels{0};

  enum class Take { kIdle, kSlot, kQueued };

  // A connection for an exchange on `loop`: an idle one of that loop
  // (*conn), a slot to open one, or queued (`waiter` is granted one later).
  Take TakeOrWait(const void* loop, std::shared_ptr<UpstreamConn>* conn,
                  std::shared_ptr<Waiter> waiter) {
    std::vector<std::shared_ptr<UpstreamConn>> stale;
    Take take = Take::kQueued;
    {
      std::lock_guard<std::mutex> lock(mu);
      auto& mine = idle[loop];
      const auto too_old = Clock::now() - std::chrono::milliseconds(options.idle_ms);
      while (!mine.empty()) {
        std::shared_ptr<UpstreamConn> c = std::move(mine.back());
        mine.pop_back();
        if (c->idle_since >= too_old) {
          *conn = std::move(c);
          take = Take::kIdle;
          break;
        }
        stale.push_back(std::move(c));  // the upstream may have closed it
        --open;
      }
      if (take == Take::kQueued && open < options.max_connections) {
        ++open;
        take = Take::kSlot;
      }
      if (take == Take::kQueued) {
        for (auto& [other, list] : idle) {
          if (list.empty()) continue;
          // Close another loop's idle connection there; its slot is ours.
          std::shared_ptr<UpstreamConn> c = std::move(list.back());
          list.pop_back();
          boost::asio::post(c->stream.get_executor(), [c] { c->stream.close(); });
          take = Take::kSlot;
          break;
        }
      }
      if (take == Take::kQueued) waiters.push_back(std::move(waiter));
    }
    for (auto& c : stale) c->stream.close();  // on this loop: ours
    return take;
  }

  // The exchange is done with `conn` (on conn's loop). A reusable one goes
  // to a waiter of the same loop or the idle list; else it is closed and
  // its slot goes to the first waiter, or is freed.
  void Release(std::shared_ptr<UpstreamConn> conn, bool reusable) {
    if (!conn->counted) {
      conn->stream.close();
      return;
    }
    const void* loop = api_internal::LoopOf(conn->stream.get_executor());
    std::shared_ptr<Waiter> to;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!waiters.empty()) {
        to = std::move(waiters.front());
        waiters.pop_front();
        if (!reusable || to->loop != loop) {
          conn->stream.close();
          conn = nullptr;  // a slot
        }
      } else if (reusable) {
        conn->idle_since = Clock::now();
        idle[loop].push_back(std::move(conn));
        return;
      } else {
        conn->stream.close();
        --open;
        return;
      }
    }
    boost::asio::post(to->executor, [to, conn] { to->grant(conn); });
  }

  // false when `waiter` was already granted (the grant is on its way).
  bool Cancel(const Waiter* waiter) {
    std::lock_guard<std::mutex> lock(mu);
    for (auto it = waiters.begin(); it != waiters.end(); ++it) {
      if (it->get() == waiter) {
        waiters.erase(it);
        return true;
      }
    }
    return false;
  }

  void Report(const HttpRequest& request, const ForwardResult& result) {
    ++forwarded;
    if (result.status == 502 && !result.error.empty()) ++errors_502;
    if (result.status == 504 && !result.error.empty()) ++errors_504;
    {
      std::lock_guard<std::mutex> lock(mu);
      ++by_status[result.status];
      seconds_sum += result.seconds;
    }
    if (done) done(request, result);
  }
};

}  // namespace taskdex

#endif  // TASKDEX_API_INTERNAL_UPSTREAM_POOL_H_
