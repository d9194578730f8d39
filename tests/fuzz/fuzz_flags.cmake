# Included by the root CMakeLists.txt when TRADINGD_FUZZ=ON, before any target is defined, so that
# every target (our libraries and the fuzz executables) is built with coverage instrumentation for
# libFuzzer plus ASan and UBSan. Only the fuzz executables link libFuzzer itself (-fsanitize=fuzzer,
# see tests/fuzz/CMakeLists.txt); everything else links the sanitizer runtimes alone.
# Third-party code (the system liblua5.4, spdlog, ...) is not instrumented: that is accepted.
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang" OR NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "TRADINGD_FUZZ=ON needs clang (libFuzzer): configure with "
                        "-DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 "
                        "(got ${CMAKE_C_COMPILER_ID}/${CMAKE_CXX_COMPILER_ID}); "
                        "scripts/fuzz.sh does this")
endif()
add_compile_options(-fsanitize=fuzzer-no-link)
if(NOT TRADINGD_SANITIZE)  # TRADINGD_SANITIZE already added the same ASan/UBSan flags
    # UBSan findings must abort, or libFuzzer would not see them as crashes.
    add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                        -fno-sanitize-recover=undefined)
    add_link_options(-fsanitize=address,undefined)
endif()
