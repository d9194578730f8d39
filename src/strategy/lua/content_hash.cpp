#include <openssl/evp.h>

#include <array>
#include <stdexcept>

#include <tradingd/strategy/lua/content_hash.hpp>

namespace tradingd::strategy::lua {

std::string content_hash(std::string_view bytes) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    if (EVP_Digest(bytes.data(), bytes.size(), digest.data(), &length, EVP_sha256(), nullptr) !=
        1) {
        // Only an OpenSSL installation without SHA-256 gets here: a setup error.
        throw std::runtime_error("OpenSSL could not compute a SHA-256 digest");
    }
    static constexpr char hex[] = "0123456789abcdef";
    std::string out(content_hash_digits, '0');
    for (std::size_t i = 0; i < content_hash_digits; ++i) {
        const unsigned char byte = digest[i / 2];
        out[i] = hex[(i % 2 == 0) ? (byte >> 4) : (byte & 0x0f)];
    }
    return out;
}

}  // namespace tradingd::strategy::lua
