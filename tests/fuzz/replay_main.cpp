// Runs a fuzz target over files and directories of inputs, without
// libFuzzer: the corpus replay of every non-fuzzing configuration (ctest
// fuzz_replay_<target>). A failing input aborts, as under the fuzzer.
//
//   fuzz_replay_<target> tests/fuzz/corpus/<target> [more files or dirs]
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

void run_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}

} // namespace

int main(int argc, char** argv) {
    std::size_t n = 0;
    for (int i = 1; i < argc; ++i) {
        const std::filesystem::path arg(argv[i]);
        if (std::filesystem::is_directory(arg)) {
            for (const auto& e : std::filesystem::directory_iterator(arg)) {
                if (e.is_regular_file()) {
                    run_file(e.path());
                    ++n;
                }
            }
        } else {
            run_file(arg);
            ++n;
        }
    }
    std::printf("%zu inputs replayed\n", n);
    return n > 0 ? 0 : 1;
}
