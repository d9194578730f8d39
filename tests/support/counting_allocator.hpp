#pragma once
// Replaces the global operator new/delete with versions that count allocations, so a test or a
// bench can assert that a path makes none. Include it in exactly ONE translation unit of an
// executable (it defines the replacement functions, which must exist once per program).
#include <cstddef>
#include <cstdlib>
#include <new>

namespace tradingd::testing {
/// Allocations made through operator new since the program started.
inline std::size_t g_allocations = 0;
}  // namespace tradingd::testing

// noinline keeps GCC 12 from pairing an inlined free() with a new-expression and warning
// (-Wmismatched-new-delete false positive).
[[gnu::noinline]] void* operator new(std::size_t n) {
    ++tradingd::testing::g_allocations;
    if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
    throw std::bad_alloc();
}
[[gnu::noinline]] void* operator new[](std::size_t n) {
    return operator new(n);
}
[[gnu::noinline]] void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    ++tradingd::testing::g_allocations;
    return std::malloc(n == 0 ? 1 : n);
}
[[gnu::noinline]] void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept {
    return operator new(n, t);
}
[[gnu::noinline]] void operator delete(void* p) noexcept {
    std::free(p);
}
[[gnu::noinline]] void operator delete[](void* p) noexcept {
    std::free(p);
}
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
[[gnu::noinline]] void operator delete[](void* p, std::size_t) noexcept {
    std::free(p);
}
[[gnu::noinline]] void operator delete(void* p, const std::nothrow_t&) noexcept {
    std::free(p);
}
[[gnu::noinline]] void operator delete[](void* p, const std::nothrow_t&) noexcept {
    std::free(p);
}
