// api/internal/upstream_exchange.h
//
// The one Beast-typed entry into api/upstream_proxy.cc, for the transport
// (api/http_transport.cc) alone: it hands over a request it read and the
// client connection that sent it, and gets the connection back when the
// exchange is over. Kept out of api/upstream_proxy.h so that the server
// and the serve command see no Boost type.
//
// Thread safety: Forward runs on the client stream's loop, and so does
// everything the exchange does with the client stream, and `done`.

#ifndef TASKDEX_API_INTERNAL_UPSTREAM_EXCHANGE_H_
#define TASKDEX_API_INTERNAL_UPSTREAM_EXCHANGE_H_

#include <functional>
#include <memory>

#include <boost/beast/core.hpp>

#include "api/http_message.h"
#include "api/upstream_proxy.h"

namespace taskdex::api_internal {

struct ClientSide {
  boost::beast::tcp_stream* stream = nullptr;  // the client connection
  // Bytes the transport read past the request (a tunnel sends them on).
  boost::beast::flat_buffer* buffer = nullptr;
  bool keep_alive = false;     // the client may send another request
  std::shared_ptr<void> owner;  // keeps *stream and *buffer alive
  // Called once, on the stream's loop, when the exchange is over: true
  // when the client connection is framed and may read its next request.
  std::function<void(bool reusable)> done;
};

// Forwards `request` (read whole by the transport) and relays the answer.
void Forward(const std::shared_ptr<UpstreamProxy::Rep>& proxy, HttpRequest request,
             ClientSide client);

}  // namespace taskdex::api_internal

#endif  // TASKDEX_API_INTERNAL_UPSTREAM_EXCHANGE_H_
