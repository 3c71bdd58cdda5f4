// gather_settled of a vector of tasks without std::move.
// expect: gather_settled\(tasks\): tasks are move-only, the vector is moved in
#include <uvasync/uvasync.hpp>

#include <vector>

namespace ua = uvasync;

ua::task<int> answer() { co_return 42; }

ua::task<> caller() {
    std::vector<ua::task<int>> tasks;
    tasks.push_back(answer());
    auto all = co_await ua::gather_settled(tasks);
}
