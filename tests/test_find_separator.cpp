// readuntil's separator search (src/find_separator.hpp) agrees with
// std::string_view::find for every start position, buffer length and
// separator placement, including the 16-byte blocks' edges; the buffers are
// allocated to their exact size, so that ASan sees any read past the end.
#include "find_separator.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

using uvasync::detail::find_separator;

TEST(FindSeparator, AgreesWithStringViewFindEverywhere) {
    const std::vector<std::string> separators = {"\n", "\r\n", "\r\n\r\n", "ab", "aab", "ababc", "abababababababababa"};
    std::mt19937 rng(12345); // fixed: the same buffers every run
    const char alphabet[] = {'a', 'b', 'c', '\r', '\n'};
    std::uniform_int_distribution<int> pick(0, 4);
    int found = 0;
    for (std::size_t n = 0; n <= 70; ++n) {
        for (int round = 0; round < 20; ++round) {
            auto buffer = std::make_unique<char[]>(n ? n : 1);
            for (std::size_t i = 0; i < n; ++i) buffer[i] = alphabet[pick(rng)];
            const std::string_view text(buffer.get(), n);
            for (const std::string& sep : separators) {
                for (std::size_t from = 0; from <= n; ++from) {
                    const std::size_t want = text.find(sep, from);
                    ASSERT_EQ(find_separator(buffer.get(), n, from, sep), want)
                        << "separator " << testing::PrintToString(sep) << " in " << testing::PrintToString(std::string(text))
                        << " from " << from;
                    found += want != std::string_view::npos;
                }
            }
        }
    }
    EXPECT_GT(found, 10000); // the buffers do contain the separators
}

TEST(FindSeparator, FindsTheSeparatorAtEveryOffsetOfALongBuffer) {
    for (const std::string sep : {"\r\n\r\n", "xy", "xyz"}) {
        for (std::size_t at = 0; at + sep.size() <= 100; ++at) {
            std::string text(100, '.');
            text.replace(at, sep.size(), sep);
            EXPECT_EQ(find_separator(text.data(), text.size(), 0, sep), at) << sep << " at " << at;
            EXPECT_EQ(find_separator(text.data(), text.size(), at, sep), at);
            EXPECT_EQ(find_separator(text.data(), text.size(), at + 1, sep), std::string_view::npos);
        }
    }
}

TEST(FindSeparator, ASeparatorLongerThanTheBufferOrAStartPastItIsNotFound) {
    EXPECT_EQ(find_separator("ab", 2, 0, "abc"), std::string_view::npos);
    EXPECT_EQ(find_separator("abc", 3, 2, "bc"), std::string_view::npos);
    EXPECT_EQ(find_separator("abc", 3, 4, "c"), std::string_view::npos);
    EXPECT_EQ(find_separator("", 0, 0, "\n"), std::string_view::npos);
}

} // namespace
