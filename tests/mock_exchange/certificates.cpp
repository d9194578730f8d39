// test_certificates: a throwaway CA and server certificate made with the OpenSSL 3 C API.
#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>

#include "mock_exchange.hpp"

namespace tradingd::testing {
namespace {

struct pkey_free {
    void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
struct x509_free {
    void operator()(X509* p) const noexcept { X509_free(p); }
};
struct bio_free {
    void operator()(BIO* p) const noexcept { BIO_free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
using x509_ptr = std::unique_ptr<X509, x509_free>;
using bio_ptr = std::unique_ptr<BIO, bio_free>;

[[noreturn]] void fail(const char* step) {
    const unsigned long code = ERR_get_error();
    char text[256] = "unknown error";
    if (code != 0) ERR_error_string_n(code, text, sizeof text);
    ERR_clear_error();
    throw std::runtime_error(std::string("test_certificates: ") + step + ": " + text);
}

void check(int ok, const char* step) {
    if (ok != 1) fail(step);
}

pkey_ptr make_key() {
    pkey_ptr key(EVP_EC_gen("P-256"));
    if (!key) fail("EVP_EC_gen");
    return key;
}

bool is_ip_address(const std::string& host) {
    unsigned char buf[16];
    return inet_pton(AF_INET, host.c_str(), buf) == 1 ||
           inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

void add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    if (ext == nullptr) fail("X509V3_EXT_conf_nid");
    const int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    check(ok, "X509_add_ext");
}

/// A v3 certificate for `key` named `common_name`, issued by `issuer` (nullptr: self-signed).
x509_ptr make_certificate(EVP_PKEY* key, const std::string& common_name, X509* issuer,
                          EVP_PKEY* issuer_key, const std::string& sans, int days) {
    x509_ptr cert(X509_new());
    if (!cert) fail("X509_new");
    check(X509_set_version(cert.get(), 2), "X509_set_version");

    // A random positive 64-bit serial: two runs never present the same issuer+serial.
    std::unique_ptr<BIGNUM, decltype(&BN_free)> serial(BN_new(), &BN_free);
    if (!serial) fail("BN_new");
    check(BN_rand(serial.get(), 64, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY), "BN_rand");
    if (BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
        fail("BN_to_ASN1_INTEGER");
    }
    if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) == nullptr ||
        X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400L * days) == nullptr) {
        fail("X509_gmtime_adj");
    }
    check(X509_set_pubkey(cert.get(), key), "X509_set_pubkey");

    X509_NAME* name = X509_get_subject_name(cert.get());
    const auto* cn = reinterpret_cast<const unsigned char*>(common_name.c_str());
    check(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                     reinterpret_cast<const unsigned char*>("tradingd mock"), -1,
                                     -1, 0),
          "X509_NAME_add_entry_by_txt");
    check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, cn, -1, -1, 0),
          "X509_NAME_add_entry_by_txt");
    X509* signer = issuer != nullptr ? issuer : cert.get();
    check(X509_set_issuer_name(cert.get(), X509_get_subject_name(signer)), "X509_set_issuer_name");

    add_extension(cert.get(), signer, NID_subject_key_identifier, "hash");
    add_extension(cert.get(), signer, NID_authority_key_identifier, "keyid:always");
    if (issuer == nullptr) {
        add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
        add_extension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
        add_extension(cert.get(), signer, NID_key_usage, "critical,digitalSignature");
        add_extension(cert.get(), signer, NID_ext_key_usage, "serverAuth");
        // The SANs are what hostname verification checks (the CN is ignored when SANs exist).
        add_extension(cert.get(), signer, NID_subject_alt_name, sans);
    }
    if (X509_sign(cert.get(), issuer_key, EVP_sha256()) <= 0) fail("X509_sign");
    return cert;
}

template <class Write>
std::string to_pem(Write&& write) {
    bio_ptr bio(BIO_new(BIO_s_mem()));
    if (!bio) fail("BIO_new");
    check(write(bio.get()), "PEM_write");
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(size));
}

std::string subject_alt_names(const std::vector<std::string>& hosts) {
    std::string sans;
    for (const auto& host : hosts) {
        if (!sans.empty()) sans += ",";
        sans += (is_ip_address(host) ? "IP:" : "DNS:") + host;
    }
    return sans;
}

}  // namespace

test_certificates test_certificates::generate(const std::vector<std::string>& hosts, int days) {
    if (hosts.empty()) throw std::invalid_argument("test_certificates: no hosts");
    const pkey_ptr ca_key = make_key();
    const x509_ptr ca =
        make_certificate(ca_key.get(), "tradingd mock CA", nullptr, ca_key.get(), "", days);
    const pkey_ptr server_key = make_key();
    const x509_ptr server = make_certificate(server_key.get(), hosts.front(), ca.get(),
                                             ca_key.get(), subject_alt_names(hosts), days);

    test_certificates out;
    out.ca_pem = to_pem([&](BIO* b) { return PEM_write_bio_X509(b, ca.get()); });
    out.server_cert_pem = to_pem([&](BIO* b) { return PEM_write_bio_X509(b, server.get()); });
    out.server_key_pem = to_pem([&](BIO* b) {
        return PEM_write_bio_PrivateKey(b, server_key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    });
    return out;
}

std::filesystem::path test_certificates::write(const std::filesystem::path& dir) const {
    std::filesystem::create_directories(dir);
    const auto put = [&](const char* name, const std::string& text) {
        std::ofstream file(dir / name, std::ios::binary | std::ios::trunc);
        file << text;
        if (!file.flush())
            throw std::runtime_error("test_certificates: cannot write " + (dir / name).string());
    };
    put("ca.pem", ca_pem);
    put("server.pem", server_cert_pem);
    put("server.key", server_key_pem);
    return dir / "ca.pem";
}

}  // namespace tradingd::testing
