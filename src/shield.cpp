// shield: what happens to a shielded task's failure once its waiter is gone.
#include <uvasync/detail/loop_core.hpp>
#include <uvasync/shield.hpp>

namespace uvasync::detail {

void report_if_shielded_task_fails(task_state_base& inner) {
    if (inner.loop().closed()) return;
    task_handle<> keep = task_handle<>::share(&inner);
    try {
        add_done_callback(inner, [keep] {
            task_state_base* s = keep.state();
            // Somebody else awaited it and saw the exception, or an earlier
            // shield's callback reported it already: nothing is lost.
            if (!s->failed() || s->retrieved()) return;
            std::exception_ptr e = s->take_error();
            s->loop().report("exception in shielded task", std::move(e), s->name());
        });
    } catch (...) { // out of memory: the failure goes unreported (never retrieved, then)
    }
}

} // namespace uvasync::detail
