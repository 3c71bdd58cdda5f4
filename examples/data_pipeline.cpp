// data_pipeline: gzip'd JSON-lines files in, transformed batches out.
//
//   data_pipeline input_dir output_dir
//
// Every *.json.gz file of input_dir is read (uvasync's files API) and
// decompressed; each line is one JSON record. A bounded queue (1,000
// records) feeds the transform stage, which keeps the user id, the action,
// the timestamp and the device type ("unknown" when the record has none).
// Transformed records are collected in batches of 1,000, and each batch is
// gzip-compressed on the thread pool (to_thread) and written to output_dir
// as batch-NNNNNN.json.gz, one JSON object per line. A line that is not a
// JSON object with user_id, action and timestamp is skipped and counted. A
// progress line every 10,000 records, and the rate at the end.
//
// The asyncio original is examples/python/data_pipeline.py.
#include <uvasync/uvasync.hpp>

#include <boost/json.hpp>
#include <boost/json/src.hpp> // Boost.JSON header-only: this file is its one translation unit
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ua = uvasync;
namespace json = boost::json;

constexpr std::size_t queue_size = 1000;
constexpr std::size_t batch_size = 1000;
constexpr std::size_t progress_every = 10000;

// gzip.decompress (every member of the file); `name` is for the error.
std::string gunzip(const std::string& in, const std::string& name) {
    z_stream z{};
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) throw std::runtime_error("zlib: inflateInit2 failed");
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    std::string out(std::max<std::size_t>(4 * in.size(), 64 * 1024), '\0'); // JSON lines shrink about 4x
    std::size_t used = 0;
    int rc;
    do {
        if (used == out.size()) out.resize(2 * out.size());
        z.next_out = reinterpret_cast<Bytef*>(out.data() + used);
        z.avail_out = static_cast<uInt>(out.size() - used);
        rc = inflate(&z, Z_NO_FLUSH);
        used = out.size() - z.avail_out;
        if (rc == Z_STREAM_END && z.avail_in > 0 && inflateReset(&z) == Z_OK) rc = Z_OK; // another member
    } while (rc == Z_OK);
    inflateEnd(&z);
    if (rc != Z_STREAM_END) throw std::runtime_error(name + ": not a complete gzip file");
    out.resize(used);
    return out;
}

// gzip.compress(data, compresslevel=6).
std::string gzip(std::string in) {
    z_stream z{};
    if (deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        throw std::runtime_error("zlib: deflateInit2 failed");
    std::string out(deflateBound(&z, in.size()), '\0');
    z.next_in = reinterpret_cast<Bytef*>(in.data());
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    const int rc = deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    if (rc != Z_STREAM_END) throw std::runtime_error("zlib: deflate failed");
    return out;
}

struct stats {
    std::size_t records = 0, skipped = 0, batches = 0;
    ua::clock::time_point started = ua::clock::now();
    double rate() const {
        return records / std::chrono::duration<double>(ua::clock::now() - started).count();
    }
};

// Stage 1: files -> records.
ua::task<> read_files(const std::vector<std::string>& paths, ua::queue<json::value>& records, stats& st) {
    // Records are parsed with monotonic allocators, each shared by up to
    // 1,000 records: their keys, objects and strings come from a few large
    // blocks, freed at once when the last of those records is done with.
    constexpr std::size_t records_per_allocator = 1000;
    json::storage_ptr storage;
    std::size_t parsed = 0;
    for (const std::string& path : paths) {
        const std::string compressed = co_await ua::read_file(path);
        const std::string text = gunzip(compressed, path);
        for (std::size_t at = 0; at < text.size();) {
            std::size_t end = std::min(text.find('\n', at), text.size());
            const std::string_view line(text.data() + at, end - at);
            at = end + 1;
            if (line.empty()) continue;
            if (parsed++ % records_per_allocator == 0) storage = json::make_shared_resource<json::monotonic_resource>();
            boost::system::error_code error;
            json::value record = json::parse(line, error, storage);
            if (error) ++st.skipped;
            else co_await records.put(std::move(record));
        }
    }
    records.shutdown(); // the transform stage ends once it has taken the rest
}

// The transform of one record; nothing when the record lacks what it needs.
// The result is allocated with the record's allocator.
std::optional<json::object> transform(const json::value& record) {
    const json::object* in = record.if_object();
    if (!in) return std::nullopt;
    const json::value* user_id = in->if_contains("user_id");
    const json::value* action = in->if_contains("action");
    const json::value* timestamp = in->if_contains("timestamp");
    if (!user_id || !action || !timestamp) return std::nullopt;
    json::value device_type = "unknown";
    if (const json::value* device = in->if_contains("device"); device && device->is_object())
        if (const json::value* type = device->get_object().if_contains("type")) device_type = *type;
    return json::object(
        {{"user_id", *user_id}, {"action", *action}, {"timestamp", *timestamp}, {"device_type", device_type}},
        record.storage());
}

// Stage 2: records -> batches of up to 1,000 JSON lines.
ua::task<> transform_records(ua::queue<json::value>& records, ua::queue<std::string>& batches, stats& st) {
    std::string batch;
    std::size_t in_batch = 0;
    for (;;) {
        std::optional<json::value> record; // emplaced, not assigned: it keeps its own allocator
        try {
            record.emplace(co_await records.get());
        } catch (const ua::queue_shut_down&) {
            break;
        }
        std::optional<json::object> out = transform(*record);
        if (!out) {
            ++st.skipped;
            continue;
        }
        batch += json::serialize(*out);
        batch += '\n';
        if (++st.records % progress_every == 0)
            std::printf("%zu records (%.0f records/s)\n", st.records, st.rate());
        if (++in_batch == batch_size) {
            co_await batches.put(std::move(batch));
            batch.clear();
            in_batch = 0;
        }
    }
    if (in_batch > 0) co_await batches.put(std::move(batch));
    batches.shutdown();
}

// Stage 3: batches -> compressed files, compressed on the thread pool.
ua::task<> write_batches(ua::queue<std::string>& batches, const std::string& output_dir, stats& st) {
    for (;;) {
        std::string batch;
        try {
            batch = co_await batches.get();
        } catch (const ua::queue_shut_down&) {
            break;
        }
        std::string compressed = co_await ua::to_thread(gzip, std::move(batch));
        char name[32];
        std::snprintf(name, sizeof name, "/batch-%06zu.json.gz", ++st.batches);
        co_await ua::write_file(output_dir + name, std::move(compressed));
    }
}

ua::task<> amain(std::string input_dir, std::string output_dir) {
    std::vector<std::string> paths;
    for (const auto& entry : std::filesystem::directory_iterator(input_dir)) {
        const std::string name = entry.path().filename().string();
        if (name.size() > 8 && name.ends_with(".json.gz")) paths.push_back(entry.path().string());
    }
    std::sort(paths.begin(), paths.end());
    std::filesystem::create_directories(output_dir);

    ua::queue<json::value> records(queue_size);
    ua::queue<std::string> batches(4); // a few batches compressing while the transform goes on
    stats st;
    auto stages = [&](ua::task_group& tg) -> ua::task<> {
        tg.create_task(read_files(paths, records, st));
        tg.create_task(transform_records(records, batches, st));
        tg.create_task(write_batches(batches, output_dir, st));
        co_return;
    };
    co_await ua::task_group::scope(stages); // the stages borrow these locals: the scope outlives them
    std::printf("done: %zu records in %zu batches from %zu files, %zu skipped (%.0f records/s)\n", st.records,
                st.batches, paths.size(), st.skipped, st.rate());
}

int main(int argc, char** argv) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    if (argc != 3) {
        std::fprintf(stderr, "usage: data_pipeline input_dir output_dir\n");
        return 2;
    }
    try {
        ua::run(amain(argv[1], argv[2]));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "data_pipeline: %s\n", e.what());
        return 1;
    }
}
