#pragma once
// TLS for the exchange clients: peers are always verified (chain against the system CA store or
// a configured CA file, and the host name), SNI is always sent. There is no switch to turn
// verification off (RELIABILITY.md row M14).

#include <boost/asio/ssl.hpp>
#include <filesystem>
#include <string>

namespace tradingd::net {

/// A client context: TLS 1.2 or later, verify_peer, trusting `ca_file` when it is not empty and
/// the system's default CA paths otherwise. Throws std::runtime_error naming the file when it
/// cannot be loaded.
boost::asio::ssl::context make_client_tls_context(const std::filesystem::path& ca_file);

/// Configures one connection's SSL object for `host` before its handshake: SNI (for DNS names)
/// and OpenSSL's built-in host name (or IP address) check, so a certificate for another host
/// fails the handshake with X509_V_ERR_HOSTNAME_MISMATCH. Returns false with `error` set when
/// OpenSSL refuses the host.
bool prepare_tls_client(SSL* ssl, const std::string& host, std::string& error);

/// Why a handshake on `ssl` failed, for a human: OpenSSL's verify result when verification
/// failed ("certificate verify failed: hostname mismatch"), else the error code's message.
std::string describe_tls_failure(SSL* ssl, const boost::system::error_code& ec);

}  // namespace tradingd::net
