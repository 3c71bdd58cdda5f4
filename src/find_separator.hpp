// find_separator: where readuntil's separator first occurs in the buffer.
//
// std::string_view::find stops at every occurrence of the separator's first
// byte and calls memcmp there; an HTTP head has a "\r" at the end of every
// line, so finding "\r\n\r\n" in a 40-byte request cost two memchr and two
// memcmp calls (163 instructions). This looks at 16 starting positions at a
// time, keeps those where the first two bytes match, and compares the rest
// of the separator in place (about 135 instructions for the same request,
// and no call). Without SSE2 it is std::string_view::find.
#pragma once

#include <cstddef>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace uvasync::detail {

// The first position >= from where `sep` (at least one byte) starts in
// [p, p + n), or npos.
inline std::size_t find_separator(const char* p, std::size_t n, std::size_t from, std::string_view sep) noexcept {
    constexpr std::size_t npos = std::string_view::npos;
    const std::size_t m = sep.size();
    if (m > n || from > n - m) return npos;
#if defined(__SSE2__)
    if (m >= 2) {
        const std::size_t last = n - m; // the last possible start
        auto rest_matches = [&](std::size_t at) noexcept {
            for (std::size_t j = 2; j < m; ++j)
                if (p[at + j] != sep[j]) return false;
            return true;
        };
        if (last < 15) { // shorter than one block
            for (std::size_t at = from; at <= last; ++at)
                if (p[at] == sep[0] && p[at + 1] == sep[1] && rest_matches(at)) return at;
            return npos;
        }
        const __m128i first = _mm_set1_epi8(sep[0]);
        const __m128i second = _mm_set1_epi8(sep[1]);
        for (std::size_t i = from; i <= last;) {
            // Starts [base, base + 16): the last block ends at `last`, and
            // its starts before i were looked at already. The loads read
            // p[base, base + 17), inside the buffer.
            const std::size_t base = i + 15 <= last ? i : last - 15;
            const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + base));
            const __m128i y = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + base + 1));
            unsigned mask = static_cast<unsigned>(
                _mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(x, first), _mm_cmpeq_epi8(y, second))));
            for (mask &= ~0u << (i - base); mask; mask &= mask - 1)
                if (const std::size_t at = base + static_cast<std::size_t>(__builtin_ctz(mask)); rest_matches(at))
                    return at;
            i = base + 16;
        }
        return npos;
    }
#endif
    return std::string_view(p, n).find(sep, from);
}

} // namespace uvasync::detail
