#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>
#include <stdexcept>

#include <tradingd/net/tls.hpp>

namespace tradingd::net {

namespace ssl = boost::asio::ssl;

ssl::context make_client_tls_context(const std::filesystem::path& ca_file) {
    ssl::context ctx(ssl::context::tls_client);
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                    ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    ctx.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    boost::system::error_code ec;
    if (ca_file.empty()) {
        ctx.set_default_verify_paths(ec);
        if (ec) throw std::runtime_error("cannot load the system CA store: " + ec.message());
    } else {
        ctx.load_verify_file(ca_file.string(), ec);
        if (ec) {
            throw std::runtime_error("cannot load CA file '" + ca_file.string() +
                                     "': " + ec.message());
        }
    }
    return ctx;
}

bool prepare_tls_client(SSL* ssl, const std::string& host, std::string& error) {
    boost::system::error_code ec;
    (void)boost::asio::ip::make_address(host, ec);  // only "is it an IP address?" matters
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (!ec) {
        // An IP address: no SNI (RFC 6066 forbids it); match the certificate's IP SAN.
        if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1) {
            error = "cannot set the expected IP address '" + host + "'";
            return false;
        }
        return true;
    }
    if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) {
        error = "cannot set SNI host name '" + host + "'";
        return false;
    }
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_set1_host(ssl, host.c_str()) != 1) {
        error = "cannot set the expected host name '" + host + "'";
        return false;
    }
    return true;
}

std::string describe_tls_failure(SSL* ssl, const boost::system::error_code& ec) {
    const long verify = ssl != nullptr ? SSL_get_verify_result(ssl) : X509_V_OK;
    if (verify != X509_V_OK) {
        return std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
    }
    return ec.message();
}

}  // namespace tradingd::net
