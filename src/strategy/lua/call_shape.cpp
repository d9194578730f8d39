#include "call_shape.hpp"

#include <algorithm>
#include <array>
#include <bitset>
#include <cstring>
#include <vector>

namespace tradingd::strategy::lua::detail {

namespace {

// The header of a Lua 5.4 binary chunk (ldump.c, dumpHeader), in this build's sizes.
constexpr unsigned char chunk_signature[] = {0x1b, 'L',  'u',  'a',  0x54, 0x00,  // version, format
                                             0x19, 0x93, '\r', '\n', 0x1a, '\n'};
constexpr lua_Integer check_integer = 0x5678;  // LUAC_INT
constexpr lua_Number check_number = 370.5;     // LUAC_NUM

// Lua 5.4 opcodes (lopcodes.h, the same in 5.4.0-5.4.7) and the excess-K offset of OP_JMP's
// 25-bit signed jump (sJ). Only JMP, FORLOOP and TFORLOOP can jump backwards.
enum opcode : std::uint32_t {
    op_move = 0,
    op_loadnil = 8,
    op_getfield = 14,
    op_self = 20,
    op_first_arith = 21,  // ADDI .. SHR
    op_last_arith = 45,
    op_mmbin = 46,
    op_mmbini = 47,
    op_mmbink = 48,
    op_concat = 53,
    op_jmp = 56,
    op_first_test = 57,  // EQ .. TESTSET: skip the next instruction or not
    op_last_test = 67,
    op_call = 68,
    op_tailcall = 69,
    op_return = 70,
    op_return0 = 71,
    op_return1 = 72,
    op_forloop = 73,
    op_forprep = 74,
    op_tforprep = 75,
    op_tforcall = 76,
    op_tforloop = 77,
    op_vararg = 80,
    op_extraarg = 82,
    op_count = 83,
    op_lfalseskip = 6,
};
constexpr std::int64_t jump_offset = (std::int64_t{1} << 24) - 1;

// Registers an instruction may write, beyond the special cases of track(): none, or R[A].
constexpr bool writes_nothing(std::uint32_t op) noexcept {
    switch (op) {
        case 10:           // SETUPVAL
        case 15:           // SETTABUP
        case 16:           // SETTABLE
        case 17:           // SETI
        case 18:           // SETFIELD
        case 54:           // CLOSE
        case 55:           // TBC
        case op_jmp:       //
        case 57:           // EQ
        case 58:           // LT
        case 59:           // LE
        case 60:           // EQK
        case 61:           // EQI
        case 62:           // LTI
        case 63:           // LEI
        case 64:           // GTI
        case 65:           // GEI
        case 66:           // TEST
        case op_return:    //
        case op_return0:   //
        case op_return1:   //
        case 78:           // SETLIST
        case 81:           // VARARGPREP
        case op_extraarg:  //
            return true;
        default:
            return false;
    }
}
constexpr bool writes_register_a(std::uint32_t op) noexcept {
    return (op >= 1 && op <= 7) ||                           // LOADI .. LOADTRUE
           op == 9 || (op >= 11 && op <= 13) || op == 19 ||  // GETUPVAL, GETTABUP..GETI, NEWTABLE
           (op >= op_first_arith && op <= op_last_arith) ||  //
           (op >= 49 && op <= 52) ||                         // UNM, BNOT, NOT, LEN
           op == op_last_test ||                             // TESTSET
           op == 79;                                         // CLOSURE
}

struct fields {
    std::uint32_t op, a, b;
    std::int64_t sj;
};
fields decode(std::uint32_t i) noexcept {
    return {i & 0x7fu, (i >> 7) & 0xffu, (i >> 16) & 0xffu,
            static_cast<std::int64_t>((i >> 7) & 0x1ffffffu) - jump_offset};
}

class dump_reader {
public:
    explicit dump_reader(std::string_view d) noexcept : d_(d) {}
    bool ok() const noexcept { return ok_; }

    bool expect(const void* bytes, std::size_t n) noexcept {
        if (!take(n) || std::memcmp(d_.data() + pos_ - n, bytes, n) != 0) ok_ = false;
        return ok_;
    }
    bool skip(std::size_t n) noexcept { return take(n); }
    // dumpSize: 7 bits per byte, most significant first, the last byte marked with 0x80.
    std::uint64_t size() noexcept {
        std::uint64_t x = 0;
        for (int i = 0; i < 10 && take(1); ++i) {
            const auto b = static_cast<unsigned char>(d_[pos_ - 1]);
            x = (x << 7) | (b & 0x7fu);
            if ((b & 0x80u) != 0) return x;
        }
        ok_ = false;
        return 0;
    }
    const char* here() const noexcept { return d_.data() + pos_; }

private:
    bool take(std::size_t n) noexcept {
        if (!ok_ || d_.size() - pos_ < n) return ok_ = false;
        pos_ += n;
        return true;
    }
    std::string_view d_;
    std::size_t pos_ = 0;
    bool ok_ = true;
};

// Reads the header and the function's fields up to its code; false when the dump is not a Lua 5.4
// chunk of this build's sizes.
bool read_up_to_code(dump_reader& r, unsigned& numparams, std::uint64_t& code_length) noexcept {
    const unsigned char sizes[] = {sizeof(std::uint32_t), sizeof(lua_Integer), sizeof(lua_Number)};
    if (!r.expect(chunk_signature, sizeof chunk_signature) || !r.expect(sizes, sizeof sizes) ||
        !r.expect(&check_integer, sizeof check_integer) ||
        !r.expect(&check_number, sizeof check_number)) {
        return false;
    }
    r.skip(1);                             // number of upvalues of the dumped function
    if (const auto n = r.size(); n > 0) {  // source: 0 when stripped, else length + 1
        r.skip(static_cast<std::size_t>(n - 1));
    }
    r.size();  // linedefined
    r.size();  // lastlinedefined
    if (r.skip(1)) numparams = static_cast<unsigned char>(r.here()[-1]);
    r.skip(2);  // is_vararg, maxstacksize
    code_length = r.size();
    return r.ok();
}

bool jumps_back(const fields& f) noexcept {
    return f.op == op_forloop || f.op == op_tforloop || (f.op == op_jmp && f.sj < 0);
}

// ---- "calls only ind": a forward data-flow pass over a loop-free function -------------------
//
// Per register, two facts: it holds the `ind` argument (the third parameter, or a MOVE copy of
// it), or it holds a value read from such a register by GETFIELD. At a join the facts that hold
// on every incoming path survive. Any write the pass does not model exactly clears the facts of
// every register it might touch, so an unmodelled case can only make the answer "no".
struct register_facts {
    std::bitset<256> ind_table;
    std::bitset<256> ind_value;
    bool reached = false;

    void forget(std::uint32_t r) noexcept {
        if (r < 256) ind_table.reset(r), ind_value.reset(r);
    }
    void forget_from(std::uint32_t first) noexcept {
        for (std::uint32_t r = first; r < 256; ++r)
            forget(r);
    }
    void merge_into(register_facts& next) const noexcept {
        if (!next.reached) {
            next = *this;
        } else {
            next.ind_table &= ind_table;
            next.ind_value &= ind_value;
        }
    }
};

// Applies instruction p to `facts`. False when it is a call of something not read from `ind`, or
// an instruction the pass does not know.
bool track(const std::uint32_t* code, std::size_t p, register_facts& facts) noexcept {
    const fields f = decode(code[p]);
    switch (f.op) {
        case op_move: {
            const bool table = facts.ind_table[f.b], value = facts.ind_value[f.b];
            facts.ind_table[f.a] = table;
            facts.ind_value[f.a] = value;
            return true;
        }
        case op_getfield: {
            const bool from_ind = facts.ind_table[f.b];
            facts.forget(f.a);
            facts.ind_value[f.a] = from_ind;
            return true;
        }
        case op_loadnil:
            for (std::uint32_t r = f.a; r <= f.a + f.b; ++r)
                facts.forget(r);
            return true;
        case op_self:
            facts.forget(f.a);
            facts.forget(f.a + 1);
            return true;
        case op_concat:
            for (std::uint32_t r = f.a; r < f.a + f.b; ++r)
                facts.forget(r);
            return true;
        case op_call:
        case op_tailcall:
            if (!facts.ind_value[f.a]) return false;
            facts.forget_from(f.a);  // results land from R[A] up
            return true;
        case op_vararg:
            facts.forget_from(f.a);
            return true;
        case op_mmbin:
        case op_mmbini:
        case op_mmbink: {
            // The metamethod's result goes to R[A] of the arithmetic instruction before it.
            const fields arith = decode(code[p > 0 ? p - 1 : p]);
            if (p > 0 && arith.op >= op_first_arith && arith.op <= op_last_arith) {
                facts.forget(arith.a);
            } else {
                facts.forget_from(0);
            }
            return true;
        }
        default:
            break;
    }
    if (writes_nothing(f.op)) return true;
    if (writes_register_a(f.op)) {
        facts.forget(f.a);
        return true;
    }
    return false;  // FORPREP, TFORPREP, TFORCALL (loops only) or unknown
}

// Hands the facts after instruction p to the instructions that may run next.
void pass_on(const std::uint32_t* code, std::size_t p, std::size_t n, const register_facts& after,
             std::vector<register_facts>& in) noexcept {
    const fields f = decode(code[p]);
    const auto to = [&](std::size_t q) {
        if (q < n) after.merge_into(in[q]);
    };
    switch (f.op) {
        case op_return:
        case op_return0:
        case op_return1:
        case op_tailcall:
            return;
        case op_jmp:
            to(p + 1 + static_cast<std::size_t>(f.sj));  // forward: checked by jumps_back
            return;
        default:
            to(p + 1);
            // Tests skip their jump; LFALSESKIP skips one; EXTRAARG words fall through.
            if ((f.op >= op_first_test && f.op <= op_last_test) || f.op == op_lfalseskip) {
                to(p + 2);
            }
            return;
    }
}

bool calls_only_ind(const std::uint32_t* code, std::size_t n, unsigned numparams) noexcept {
    try {
        std::vector<register_facts> in(n);
        in[0].reached = true;
        if (numparams >= 3) in[0].ind_table.set(2);  // (market, ctx, ind[, position])
        for (std::size_t p = 0; p < n; ++p) {
            if (!in[p].reached) continue;  // dead code
            register_facts facts = in[p];
            if (!track(code, p, facts)) return false;
            pass_on(code, p, n, facts, in);
        }
        return true;
    } catch (...) {
        return false;  // out of memory: just not proven
    }
}

// The dump of a function, as far as loop_free_length reads it; the writer stops lua_dump once the
// buffer is full (only the header and the code matter).
struct dump_buffer {
    std::array<char, 64 + 4 * max_loop_free_length> bytes{};
    std::size_t used = 0;
};

int collect_dump(lua_State*, const void* p, std::size_t n, void* ud) noexcept {
    auto& b = *static_cast<dump_buffer*>(ud);
    if (n > b.bytes.size() - b.used) return 1;  // full: lua_dump stops calling
    std::memcpy(b.bytes.data() + b.used, p, n);
    b.used += n;
    return 0;
}

// ---- the self-check of callee_is_lua --------------------------------------------------------

struct probe_tally {
    int lua = 0;
    int c = 0;
    int disagreements = 0;
};

void probe_hook(lua_State* L, lua_Debug* ar) {
    auto& t = **static_cast<probe_tally**>(lua_getextraspace(L));
    const bool by_tag = callee_is_lua(ar);
    if (lua_getinfo(L, "S", ar) == 0) {
        ++t.disagreements;
        return;
    }
    const bool by_info = std::strcmp(ar->what, "C") != 0;
    if (by_tag != by_info) ++t.disagreements;
    ++(by_info ? t.lua : t.c);
}

int do_nothing(lua_State*) {
    return 0;
}

bool probe_call_records() noexcept {
    lua_State* L = luaL_newstate();
    if (L == nullptr) return false;
    probe_tally tally;
    *static_cast<probe_tally**>(lua_getextraspace(L)) = &tally;
    lua_sethook(L, probe_hook, LUA_MASKCALL, 0);
    // Calls: the chunk (Lua, vararg), a light C function, a C closure, a Lua function, and a
    // Lua tail call.
    bool ok = luaL_loadstring(
                  L, "local a, b = ... a() b() local function f() end f() return f()") == LUA_OK;
    if (ok) {
        lua_pushcfunction(L, do_nothing);
        lua_pushboolean(L, 1);
        lua_pushcclosure(L, do_nothing, 1);
        ok = lua_pcall(L, 2, 0, 0) == LUA_OK;
    }
    lua_close(L);
    return ok && tally.disagreements == 0 && tally.lua == 3 && tally.c == 2;
}

}  // namespace

std::optional<loop_free_entry> read_loop_free_entry(std::string_view dump) noexcept {
    dump_reader r(dump);
    unsigned numparams = 0;
    std::uint64_t n = 0;
    if (!read_up_to_code(r, numparams, n) || n == 0 || n > max_loop_free_length) {
        return std::nullopt;
    }
    std::vector<std::uint32_t> code;
    try {
        code.resize(static_cast<std::size_t>(n));
    } catch (...) {
        return std::nullopt;
    }
    const char* bytes = r.here();
    if (!r.skip(code.size() * sizeof(std::uint32_t))) return std::nullopt;
    std::memcpy(code.data(), bytes, code.size() * sizeof(std::uint32_t));
    for (const std::uint32_t instruction : code) {
        const fields f = decode(instruction);
        if (f.op >= op_count || jumps_back(f)) return std::nullopt;
    }
    return loop_free_entry{static_cast<std::uint32_t>(n),
                           calls_only_ind(code.data(), code.size(), numparams)};
}

std::optional<loop_free_entry> read_loop_free_entry(lua_State* L) noexcept {
    if (lua_type(L, -1) != LUA_TFUNCTION || lua_iscfunction(L, -1) != 0) return std::nullopt;
    dump_buffer buffer;
    lua_dump(L, collect_dump, &buffer, 1);  // stops early (non-zero status) once the buffer is full
    return read_loop_free_entry(std::string_view(buffer.bytes.data(), buffer.used));
}

bool call_records_readable() noexcept {
    static const bool readable = probe_call_records();
    return readable;
}

}  // namespace tradingd::strategy::lua::detail
